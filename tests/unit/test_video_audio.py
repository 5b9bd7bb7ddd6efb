"""Speech segments from VAD scores, and their RTTM lines."""

from __future__ import annotations

import numpy as np

from mediaforge.video.audio import Segment, segments_from_activity
from mediaforge.video.rttm import parse_rttm, rttm_lines


def _segments(activity: list[float], **overrides: float) -> list[tuple[float, float]]:
    options = {"threshold": 0.5, "min_speech": 0.0, "min_silence": 0.2, "pad": 0.0, "duration": 10.0}
    found = segments_from_activity(np.array(activity), 0.1, **{**options, **overrides})
    return [(round(s.start, 3), round(s.end, 3)) for s in found]


def test_a_short_pause_does_not_split_a_segment() -> None:
    """One window of silence is shorter than ``min_silence`` (two windows)."""
    assert [(0.1, 0.6)] == _segments([0, 0.9, 0.9, 0.1, 0.9, 0.9, 0, 0, 0])


def test_a_long_pause_ends_a_segment() -> None:
    """Two quiet windows end the segment where the quiet began."""
    assert [(0.1, 0.3), (0.5, 0.6)] == _segments([0, 0.9, 0.9, 0, 0, 0.9, 0, 0, 0])


def test_hysteresis_keeps_speech_that_dips_below_the_threshold() -> None:
    """Scores between ``threshold - 0.15`` and ``threshold`` continue speech."""
    assert [(0.0, 0.4)] == _segments([0.9, 0.4, 0.4, 0.9, 0, 0, 0])


def test_too_short_segments_are_dropped_and_kept_ones_padded() -> None:
    """A 0.1 s blip goes; a 0.3 s segment grows by the pad on both sides."""
    assert [(0.45, 0.85)] == _segments([0.9, 0, 0, 0, 0, 0.9, 0.9, 0.9, 0, 0, 0], min_speech=0.2, pad=0.05)


def test_speech_running_to_the_end_is_closed() -> None:
    """A segment still open when the audio ends ends with it."""
    assert [(0.2, 0.4)] == _segments([0, 0, 0.9, 0.9])


def test_rttm_lines_have_ten_fields_and_round_trip() -> None:
    """Each segment is one SPEAKER line; whitespace in the file id becomes ``_``."""
    lines = rttm_lines("my clip", [Segment(1.0, 2.5), Segment(4.25, 5.0)])
    assert "SPEAKER my_clip 1 1.000 1.500 <NA> <NA> speech <NA> <NA>" == lines[0]
    assert [10, 10] == [len(line.split()) for line in lines]
    assert [(1.0, 2.5), (4.25, 5.0)] == [(s.start, s.end) for s in parse_rttm("\n".join(lines))]
