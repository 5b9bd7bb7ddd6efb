"""RTTM (NIST Rich Transcription Time Marked) lines for speech segments."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mediaforge.video.audio import Segment

__all__ = ["parse_rttm", "rttm_lines"]

_UNSAFE = re.compile(r"\s+")


def rttm_lines(file_id: str, segments: Sequence[Segment], *, speaker: str = "speech") -> list[str]:
    """``SPEAKER <file> 1 <start> <duration> <NA> <NA> <speaker> <NA> <NA>``, one per segment.

    RTTM fields are whitespace-separated, so whitespace in ``file_id`` becomes ``_``.
    """
    name = _UNSAFE.sub("_", file_id) or "video"
    return [
        f"SPEAKER {name} 1 {segment.start:.3f} {segment.duration:.3f} <NA> <NA> {speaker} <NA> <NA>"
        for segment in segments
    ]


def parse_rttm(text: str) -> list[Segment]:
    """The segments of an RTTM document's SPEAKER lines."""
    segments = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 9 and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            segments.append(Segment(start, start + duration))
    return segments
