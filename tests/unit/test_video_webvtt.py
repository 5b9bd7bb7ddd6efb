"""WebVTT documents: header, cue timings, escaping, and reading them back."""

from __future__ import annotations

import re

import pytest

from mediaforge.video.webvtt import Cue, format_timestamp, parse_webvtt, webvtt_document

_CUE_BLOCK = re.compile(
    r"^\d+\n\d{2}:[0-5]\d:[0-5]\d\.\d{3} --> \d{2}:[0-5]\d:[0-5]\d\.\d{3}\n[^\n]+(\n[^\n]+)*$"
)


@pytest.mark.parametrize(
    ("seconds", "stamp"),
    [
        (0.0, "00:00:00.000"),
        (1.0264, "00:00:01.026"),
        (59.9996, "00:01:00.000"),
        (3661.2346, "01:01:01.235"),
        (360_000.5, "100:00:00.500"),
        (-0.2, "00:00:00.000"),
    ],
)
def test_timestamps_are_hours_minutes_seconds_and_milliseconds(seconds: float, stamp: str) -> None:
    """Times round to the millisecond, always with hours, and negative times clamp to zero."""
    assert stamp == format_timestamp(seconds)


def test_a_document_is_the_header_then_numbered_cue_blocks() -> None:
    """``WEBVTT``, a blank line, then blocks of number, timing line and text, separated by blank lines."""
    text = webvtt_document([Cue(1.03, 2.65, "Hello there."), Cue(5.0, 7.5, "The quick brown fox.")])
    header, *blocks = text.rstrip("\n").split("\n\n")
    assert "WEBVTT" == header
    assert all(_CUE_BLOCK.match(block) for block in blocks), blocks
    assert "1\n00:00:01.030 --> 00:00:02.650\nHello there." == blocks[0]
    assert text.endswith("fox.\n")


def test_an_empty_transcript_is_just_the_header() -> None:
    """No cues: a valid document with no cues, not an empty file."""
    assert ("WEBVTT\n", []) == (webvtt_document([]), parse_webvtt(webvtt_document([])))


def test_markup_characters_and_the_arrow_cannot_break_a_cue() -> None:
    """``&``, ``<``, ``>`` become character references (so ``-->`` cannot end the timing); it reads back."""
    text = webvtt_document([Cue(0.0, 1.0, "Tom & Jerry <b>x</b> --> y")])
    assert "Tom &amp; Jerry &lt;b&gt;x&lt;/b&gt; --&gt; y" == text.split("\n")[4]
    assert [Cue(0.0, 1.0, "Tom & Jerry <b>x</b> --> y")] == parse_webvtt(text)


def test_blank_lines_and_empty_cues_are_dropped() -> None:
    """A blank line would end the cue early, so it goes; a cue with no text is left out and not numbered."""
    text = webvtt_document([Cue(0.0, 1.0, "   "), Cue(1.0, 2.0, "one\n\n two ")])
    assert "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\none\ntwo\n" == text


def test_an_end_before_the_start_is_raised_to_it() -> None:
    """A cue never ends before it starts."""
    assert [Cue(3.0, 3.0, "x")] == parse_webvtt(webvtt_document([Cue(3.0, 2.5, "x")]))


def test_documents_read_back_with_settings_notes_and_short_times() -> None:
    """The reader takes what other writers emit: a BOM, CRLF, a NOTE, MM:SS.mmm times and cue settings."""
    text = (
        "\ufeffWEBVTT - made elsewhere\r\n\r\nNOTE written by hand\r\n\r\n"
        "intro\r\n00:01.500 --> 00:02.000 align:start line:0\r\nHi &lt;there&gt;\r\nsecond line\r\n"
    )
    assert [Cue(1.5, 2.0, "Hi <there>\nsecond line")] == parse_webvtt(text)


@pytest.mark.parametrize(
    "text",
    ["", "WEBVTTX\n\n00:00:00.000 --> 00:00:01.000\nx\n", "WEBVTT\n\n00:00:00.0 --> 00:00:01.000\nx\n"],
)
def test_a_missing_header_or_a_bad_timing_is_rejected(text: str) -> None:
    """Not WebVTT: ``ValueError``, not a guess."""
    with pytest.raises(ValueError, match=r"WebVTT|WEBVTT"):
        parse_webvtt(text)
