"""An OpenAI-compatible vision model (``POST {base_url}/chat/completions``) for alt text and keywords.

The image goes as a JPEG data URL, with what the local signals found as hints. The answer must be
a JSON object ``{"alt_text": str, "keywords": [str]}``, possibly inside a code fence. The
connection is pinned to addresses the SSRF guard accepted (``allow_hosts`` exempts a host), so a
base URL cannot be turned against the deployment.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from mediaforge.errors import MediaforgeError
from mediaforge.net.guard import check_url, resolve_public

__all__ = ["VisionAnswer", "VisionConfig", "VisionError", "describe", "post_chat"]

_MAX_SIDE = 1024
_MAX_RESPONSE = 1_000_000
_SYSTEM = (
    "You write accessible, SEO-friendly image descriptions. Answer with one JSON object only: "
    '{"alt_text": "<one sentence, at most 125 characters, no leading \'image of\'>", '
    '"keywords": ["<5 to 10 lowercase keywords, most relevant first>"]}.'
)


class VisionError(Exception):
    """The provider could not be reached or gave no usable answer."""


@dataclass(frozen=True)
class VisionConfig:
    """Where the model lives and how to reach it."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    """``host`` or ``host:port`` entries the SSRF guard lets through (a local model server)."""


@dataclass(frozen=True)
class VisionAnswer:
    """What the model said."""

    alt_text: str
    keywords: list[str]
    model: str


def describe(image: Image.Image, config: VisionConfig, *, hints: list[str] | None = None) -> VisionAnswer:
    """Ask the model for alt text and keywords; raises ``VisionError`` on any failure."""
    prompt = "Describe this image for its alt text and keywords."
    if hints:
        prompt += " Local detectors suggest (may be wrong): " + "; ".join(hints) + "."
    body = {
        "model": config.model,
        "temperature": 0.2,
        "max_tokens": 300,
        "messages": [
            {"role": "system", "content": _SYSTEM},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "image_url", "image_url": {"url": _data_url(image)}},
                ],
            },
        ],
    }
    payload = post_chat(config, body)
    try:
        content = payload["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise VisionError("the provider's answer has no choices[0].message.content") from exc
    return _parse(content if isinstance(content, str) else _joined(content), config.model)


def post_chat(config: VisionConfig, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``{base_url}/chat/completions`` through the SSRF guard; the JSON answer.

    The one OpenAI-compatible client: image tagging and the photo texts both use it.
    """
    try:
        target = check_url(config.base_url.rstrip("/") + "/chat/completions")
        addresses = resolve_public(target.host, target.port, config.allow_hosts)
    except MediaforgeError as exc:
        raise VisionError(exc.message) from exc
    headers = {"Host": target.authority, "Content-Type": "application/json", "Accept": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    deadline = time.monotonic() + config.timeout
    error: Exception | None = None
    with httpx.Client(trust_env=False, follow_redirects=False) as client:
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            request = client.build_request(
                "POST",
                target.url_for(address),
                content=json.dumps(body).encode(),
                headers=headers,
                extensions=extensions,
                timeout=remaining,
            )
            try:
                response = client.send(request)
            except httpx.ConnectError as exc:
                error = exc
                continue
            except httpx.HTTPError as exc:
                raise VisionError(f"calling {target.url} failed: {exc!r}") from exc
            return _json(response, target.url)
    raise VisionError(f"cannot reach {target.url}: {error or 'timed out'}")


def _json(response: httpx.Response, url: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise VisionError(f"{url} answered HTTP {response.status_code}: {response.text[:200]}")
    if len(response.content) > _MAX_RESPONSE:
        raise VisionError(f"{url} answered more than {_MAX_RESPONSE} bytes")
    try:
        payload = response.json()
    except ValueError as exc:
        raise VisionError(f"{url} did not answer JSON") from exc
    if not isinstance(payload, dict):
        raise VisionError(f"{url} answered a JSON {type(payload).__name__}, not an object")
    return payload


def _parse(content: str, model: str) -> VisionAnswer:
    match = re.search(r"\{.*\}", content, re.DOTALL)
    try:
        data = json.loads(match.group(0) if match else content)
    except ValueError as exc:
        raise VisionError(f"the model's answer is not JSON: {content[:200]!r}") from exc
    alt_text = data.get("alt_text") if isinstance(data, dict) else None
    keywords = data.get("keywords") if isinstance(data, dict) else None
    if not isinstance(alt_text, str) or not alt_text.strip():
        raise VisionError("the model's answer has no alt_text")
    if isinstance(keywords, str):
        keywords = keywords.split(",")
    if not isinstance(keywords, list):
        keywords = []
    words = [str(k).strip() for k in keywords if str(k).strip()]
    return VisionAnswer(" ".join(alt_text.split()), words, model)


def _joined(content: Any) -> str:
    """Content given as a list of parts (``[{"type": "text", "text": ...}]``)."""
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def _data_url(image: Image.Image) -> str:
    rgb = image.convert("RGB")
    if max(rgb.size) > _MAX_SIDE:
        rgb.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
