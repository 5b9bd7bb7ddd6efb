"""WebVTT (Web Video Text Tracks, W3C) documents for transcript cues.

A document is the ``WEBVTT`` header line, a blank line, then one block per cue::

    1
    00:00:01.030 --> 00:00:02.650
    Hello there, how are you today?

Times are ``HH:MM:SS.mmm`` (hours always written, so a cue past 99 hours still parses). Cue text
is escaped as the format asks (``&``, ``<``, ``>`` as character references, which also defuses
``-->``) and never holds a blank line, which would end the cue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Cue", "format_timestamp", "parse_webvtt", "webvtt_document"]

_TIME = re.compile(r"^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_UNESCAPES = {
    "&amp;": "&",
    "&lt;": "<",
    "&gt;": ">",
    "&nbsp;": "\u00a0",
    "&lrm;": "\u200e",
    "&rlm;": "\u200f",
}


@dataclass(frozen=True, slots=True)
class Cue:
    """Text shown from ``start`` to ``end`` (seconds on the video's timeline)."""

    start: float
    end: float
    text: str


def format_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm``, rounded to the millisecond; negative times clamp to zero."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    escaped = "".join(_ESCAPES.get(char, char) for char in text)  # so "-->" becomes "--&gt;"
    lines = [line.strip() for line in escaped.splitlines()]
    return "\n".join(line for line in lines if line)


def webvtt_document(cues: Sequence[Cue]) -> str:
    """The whole ``.vtt`` file; cues with no text are left out, an end before its start is raised to it."""
    blocks = ["WEBVTT\n"]
    number = 0
    for cue in cues:
        text = _cue_text(cue.text)
        if not text:
            continue
        number += 1
        end = max(cue.end, cue.start)
        blocks.append(f"{number}\n{format_timestamp(cue.start)} --> {format_timestamp(end)}\n{text}\n")
    return "\n".join(blocks)


def _seconds(stamp: str) -> float:
    match = _TIME.match(stamp)
    if match is None:
        raise ValueError(f"not a WebVTT timestamp: {stamp!r}")
    hours, minutes, secs, millis = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(secs) + int(millis) / 1000


def _unescape(text: str) -> str:
    return re.sub(r"&(?:amp|lt|gt|nbsp|lrm|rlm);", lambda m: _UNESCAPES[m.group(0)], text)


def parse_webvtt(text: str) -> list[Cue]:
    """The cues of a WebVTT document (settings after the end time are ignored).

    Raises ``ValueError`` when the ``WEBVTT`` header is missing or a timing line is malformed.
    """
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    if not re.match(r"^WEBVTT(?:[ \t].*)?$", lines[0]):
        raise ValueError("a WebVTT document starts with 'WEBVTT'")
    cues: list[Cue] = []
    blocks = "\n".join(lines[1:]).split("\n\n")
    for block in blocks:
        rows = [row for row in block.split("\n") if row]
        timing = next((i for i, row in enumerate(rows) if "-->" in row), None)
        if timing is None or timing > 1:
            continue  # header metadata, a NOTE, a STYLE or REGION block
        start, _, rest = rows[timing].partition("-->")
        end = rest.split()[0] if rest.split() else ""
        cues.append(Cue(_seconds(start.strip()), _seconds(end), _unescape("\n".join(rows[timing + 1 :]))))
    return cues
