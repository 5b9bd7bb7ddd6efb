"""Alt text, ranked keywords and an SEO filename from what the signals found. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "MAX_FILENAME",
    "Findings",
    "compose_alt_text",
    "rank_keywords",
    "seo_filename",
    "slugify",
]

MAX_FILENAME = 60
"""The longest SEO filename, extension included."""

_CONFIDENT_LABEL = 0.3
_CONFIDENT_GROUP = 0.6
_MAX_QUOTED = 60
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_STOPWORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "into", "is", "it"),
        *("its", "of", "on", "or", "that", "the", "this", "to", "with", "image", "picture", "photo"),
        *("photograph", "showing", "shows", "mostly", "reading", "text"),
    }
)
# letters that NFKD does not split into a base letter plus accents
_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l"}
)
_LETTERS |= str.maketrans({"Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D"})
_KEYWORD_STOPWORDS = frozenset(_STOPWORDS - {"text", "photo"}) | {"you", "your", "our", "we", "i"}


@dataclass(frozen=True)
class Findings:
    """What the local signals found, as plain values (``None`` where a signal did not run)."""

    labels: Sequence[tuple[str, float]] = ()
    groups: Sequence[tuple[str, float]] = ()
    """Everyday names for groups of labels (``cat`` for the cat breeds) and their summed scores."""
    text: Sequence[str] = ()
    faces: int | None = None
    persons: int | None = None
    colors: Sequence[tuple[str, float]] = ()


def compose_alt_text(findings: Findings) -> str:
    """One sentence built only from what was found, e.g. ``An Egyptian cat, mostly brown and gray.``"""
    subjects = []
    if findings.persons:
        subjects.append(_people(findings.persons))
    subjects += [_with_article(name) for name in _things(findings)]
    subject = " and ".join(subjects)
    quoted = _quote(" ".join(findings.text))
    if subject and quoted:
        sentence = f'{subject} with the text "{quoted}"'
    elif quoted:
        sentence = f'Text reading "{quoted}"'
    else:
        sentence = subject
    colors = [name for name, _ in findings.colors[:2]]
    if sentence and colors:
        sentence += ", mostly " + " and ".join(colors)
    elif colors:
        sentence = "An image in " + " and ".join(colors)
    elif not sentence:
        sentence = "An image"
    return sentence[0].upper() + sentence[1:] + "."


def rank_keywords(
    findings: Findings,
    *,
    vision: Sequence[str] = (),
    min_label_score: float = 0.2,
    limit: int = 10,
) -> list[str]:
    """Lowercase keywords, deduplicated, most relevant first.

    Order of trust: the vision model's own keywords, then ImageNet labels and label groups scoring
    at least ``min_label_score`` (by score), people, words read in the image, then colour names.
    """
    scored: dict[str, float] = {}

    def add(keyword: str, score: float) -> None:
        key = _normalize(keyword)
        if key and score > scored.get(key, -1.0):
            scored[key] = score

    for index, keyword in enumerate(vision):
        add(keyword, 3.0 - index * 0.01)
    for name, score in [*findings.labels, *findings.groups]:
        if score >= min_label_score:
            add(name, 1.0 + score)
    if findings.persons:
        add("person" if findings.persons == 1 else "people", 1.5)
        if findings.persons >= 3:
            add("group", 1.2)
    for index, word in enumerate(_words(findings.text)):
        add(word, 0.8 - index * 0.01)
    if findings.text:
        add("text", 0.5)
    for name, fraction in findings.colors:
        add(name, 0.2 + 0.2 * fraction)
    ranked = sorted(scored, key=lambda k: -scored[k])
    return ranked[:limit]


def slugify(text: str, *, max_length: int = MAX_FILENAME, drop: Iterable[str] = ()) -> str:
    """Lowercase ASCII words joined by ``-``, cut at a word boundary to ``max_length``.

    Accents are folded (``Zürich`` → ``zurich``, ``Straße`` → ``strasse``); anything else that
    is not a letter or digit separates words; words in ``drop`` are left out.
    """
    spelled = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    folded = spelled.encode("ascii", "ignore").decode("ascii").lower()
    dropped = frozenset(drop)
    words = [w for w in re.split(r"[^a-z0-9]+", folded) if w and w not in dropped]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            if not slug:
                slug = word[:max_length]
            break
        slug = candidate
    return slug


def seo_filename(alt_text: str, keywords: Sequence[str], extension: str) -> str:
    """``<slug>.<extension>``, at most ``MAX_FILENAME`` characters, from the alt text's content words.

    Falls back to the keywords, then to ``image``, when the alt text has no content words.
    """
    ext = slugify(extension.lstrip("."), max_length=10).replace("-", "")
    suffix = f".{ext}" if ext else ""
    room = MAX_FILENAME - len(suffix)
    stem = slugify(alt_text, max_length=room, drop=_STOPWORDS)
    if not stem:
        stem = slugify(" ".join(keywords), max_length=room, drop=_STOPWORDS)
    return (stem or "image") + suffix


def _things(findings: Findings) -> list[str]:
    """The confident labels; a confident group instead when no single label in it is."""
    things = [name for name, score in findings.labels[:2] if score >= _CONFIDENT_LABEL]
    if not things:
        things = [name for name, score in findings.groups[:1] if score >= _CONFIDENT_GROUP]
    return things


def _people(count: int) -> str:
    if count == 1:
        return "a person"
    return f"{_NUMBERS[count] if count < len(_NUMBERS) else count} people"


def _with_article(name: str) -> str:
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _quote(text: str) -> str:
    text = " ".join(text.replace('"', "'").split())
    if len(text) <= _MAX_QUOTED:
        return text
    return text[:_MAX_QUOTED].rsplit(" ", 1)[0] + "…"


def _normalize(keyword: str) -> str:
    return " ".join(re.sub(r"[^\w\s-]", " ", keyword.lower()).split())


def _words(lines: Sequence[str]) -> list[str]:
    words = []
    for line in lines:
        for word in re.findall(r"[^\W\d_]{3,}", line.lower()):
            if word not in _KEYWORD_STOPWORDS and word not in words:
                words.append(word)
    return words[:5]
