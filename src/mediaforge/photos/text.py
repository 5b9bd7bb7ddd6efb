"""SUGGEST_TEXT: a book title, and a title and caption per chapter, from the chapters' facts.

With ``text_llm_*`` configured, an OpenAI-compatible chat model writes them from the facts
(dates, places, people) as JSON; its failure is an ``UpstreamFailed`` (502), never a silent
fallback. Without one, the text is composed from the facts by templates, and the result says so
(``source: "template"``, ``templated: true``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from mediaforge.config import Settings
from mediaforge.tagging.vision import VisionConfig, VisionError, post_chat

__all__ = ["TextError", "llm_config", "templated", "write_text"]

_SYSTEM = (
    "You write short, warm photobook texts. Answer with one JSON object only: "
    '{"book_title": "<at most 60 characters>", "chapters": [{"title": "<at most 50 characters>", '
    '"caption": "<one sentence, at most 160 characters>"}]} with exactly one entry per chapter, in order. '
    "Use only the facts given; do not invent names."
)


class TextError(Exception):
    """The LLM could not be reached or gave no usable answer."""


def llm_config(settings: Settings) -> VisionConfig | None:
    if not (settings.text_llm_base_url and settings.text_llm_model):
        return None
    key = settings.text_llm_api_key
    return VisionConfig(
        base_url=settings.text_llm_base_url,
        model=settings.text_llm_model,
        api_key=key.get_secret_value() if key else None,
        timeout=settings.text_llm_timeout_seconds,
        allow_hosts=settings.allow_hosts,
    )


def write_text(
    facts: list[dict[str, Any]], settings: Settings, *, language: str, style: str
) -> dict[str, Any]:
    """Texts for the chapters described by ``facts``; raises ``TextError`` when the LLM fails."""
    config = llm_config(settings)
    if config is None:
        return templated(facts)
    body = {
        "model": config.model,
        "temperature": 0.4,
        "max_tokens": 200 + 120 * len(facts),
        "messages": [
            {"role": "system", "content": _SYSTEM},
            {
                "role": "user",
                "content": f"Language: {language}. Tone: {style}. Chapters (facts as JSON): "
                + json.dumps(facts, ensure_ascii=False),
            },
        ],
    }
    try:
        payload = post_chat(config, body)
        content = payload["choices"][0]["message"]["content"]
    except VisionError as exc:
        raise TextError(str(exc)) from exc
    except (KeyError, IndexError, TypeError) as exc:
        raise TextError("the provider's answer has no choices[0].message.content") from exc
    return _parse(str(content), len(facts), config.model)


def _parse(content: str, chapters: int, model: str) -> dict[str, Any]:
    match = re.search(r"\{.*\}", content, re.DOTALL)
    try:
        data = json.loads(match.group(0) if match else content)
        title = str(data["book_title"]).strip()
        items = [(str(c["title"]).strip(), str(c["caption"]).strip()) for c in data["chapters"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise TextError(f"the model's answer is not the JSON asked for: {content[:200]!r}") from exc
    if len(items) != chapters or not title or not all(t and c for t, c in items):
        raise TextError(f"the model wrote {len(items)} chapter texts for {chapters} chapters")
    return {
        "source": "llm",
        "templated": False,
        "model": model,
        "book_title": title,
        "chapters": [{"title": t, "caption": c} for t, c in items],
    }


# --- templates -----------------------------------------------------------------------------
def templated(facts: list[dict[str, Any]]) -> dict[str, Any]:
    """Deterministic text from the facts alone."""
    return {
        "source": "template",
        "templated": True,
        "note": "Templated text: no LLM provider is configured (MEDIAFORGE_TEXT_LLM_*).",
        "book_title": _book_title(facts),
        "chapters": [{"title": chapter_title(f), "caption": _caption(f)} for f in facts],
    }


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _span(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    if start.date() == end.date():
        return f"{start.day} {start:%B %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}-{end.day} {start:%B %Y}"
    if start.year == end.year:
        return f"{start.day} {start:%B} - {end.day} {end:%B %Y}"
    return f"{start:%B %Y} - {end:%B %Y}"


def chapter_title(facts: dict[str, Any]) -> str:
    place = (facts.get("place") or {}).get("city")
    when = _span(_date(facts.get("start")), _date(facts.get("end")))
    return ", ".join(part for part in (place, when) if part) or "More moments"


def _caption(facts: dict[str, Any]) -> str:
    n = facts["photos"]
    text = f"{n} photo{'s' if n != 1 else ''}"
    if place := facts.get("place"):
        where = ", ".join(p for p in (place.get("city"), place.get("country")) if p)
        text += f" taken in {where}"
    when = _span(_date(facts.get("start")), _date(facts.get("end")))
    if when:
        text += f", {when}"
    people = facts.get("people") or {}
    if people.get("photos_with_faces"):
        text += f"; {people['photos_with_faces']} with people in them"
    return text + "."


def _book_title(facts: list[dict[str, Any]]) -> str:
    cities: list[str] = []
    for f in facts:
        city = (f.get("place") or {}).get("city")
        if city and city not in cities:
            cities.append(city)
    starts = [d for f in facts if (d := _date(f.get("start")))]
    ends = [d for f in facts if (d := _date(f.get("end")))]
    when = _span(min(starts), max(ends)) if starts and ends else ""
    if len(cities) > 3:
        where = ", ".join(cities[:3]) + " and more"
    elif len(cities) > 1:
        where = ", ".join(cities[:-1]) + " and " + cities[-1]
    else:
        where = cities[0] if cities else ""
    return " · ".join(part for part in (where, when) if part) or "Our photos"
