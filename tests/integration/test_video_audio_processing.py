"""``video.audio_processing`` finds espeak-ng speech at the times it was placed."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.videos import cut_clip, run_processor, speech_clip, speech_track

from mediaforge.processors.builtin.video_audio_processing import VIDEO_AUDIO_PROCESSING
from mediaforge.video.rttm import parse_rttm
from mediaforge.video.speech import stt_available

pytest.importorskip("av")

SPEECH = [
    (1.0, "Hello there, how are you today?"),
    (5.0, "The quick brown fox jumps over the lazy dog."),
    (10.5, "Goodbye."),
]


@pytest.fixture(scope="module")
def truth() -> list[tuple[float, float]]:
    return speech_track(SPEECH, seconds=13)[1]


@pytest.mark.parametrize(
    ("backend", "container"),
    [("silero", "mp4"), ("silero", "webm"), ("silero", "avi"), ("webrtc", "mp4"), ("webrtc", "mkv")],
)
def test_speech_segments_are_within_a_fifth_of_a_second(
    tmp_path: Path, truth: list[tuple[float, float]], backend: str, container: str
) -> None:
    """Three utterances: three RTTM segments, each edge within ±0.2 s of the rendered speech."""
    clip = speech_clip(tmp_path / "talk", speech=SPEECH, seconds=13, container=container)
    output = run_processor(VIDEO_AUDIO_PROCESSING, clip, tmp_path, vad_backend=backend)
    found = [(s.start, s.end) for s in parse_rttm(output.files[0].path.read_text())]
    assert len(truth) == len(found) == output.result["annotation_count"]
    errors = [max(abs(a - c), abs(b - d)) for (a, b), (c, d) in zip(found, truth, strict=True)]
    assert max(errors) <= 0.2, (found, truth)


def test_rttm_lines_name_the_file_and_the_speech_label(tmp_path: Path) -> None:
    """Each line has the nine RTTM fields and more, starting with SPEAKER and the video's name."""
    clip = speech_clip(tmp_path / "talk", speech=SPEECH[:1], seconds=4)
    output = run_processor(VIDEO_AUDIO_PROCESSING, clip, tmp_path)
    lines = output.files[0].path.read_text().splitlines()
    assert [("SPEAKER", "talk", "speech")] == [(f[0], f[1], f[7]) for f in (line.split() for line in lines)]
    assert ("audio_processing.rttm", "RTTM") == (output.files[0].filename, output.result["format"])


def test_without_a_speech_to_text_model_the_transcript_reports_itself_unavailable(tmp_path: Path) -> None:
    """faster-whisper or its model missing: no .vtt file, and the result says why and what to install."""
    if stt_available()[0]:
        pytest.skip("the speech-to-text model is installed (tests/integration/test_video_speech.py)")
    clip = speech_clip(tmp_path / "talk", speech=SPEECH[:1], seconds=4)
    output = run_processor(VIDEO_AUDIO_PROCESSING, clip, tmp_path)
    transcript = output.result["transcript"]
    assert (False, 1) == (transcript["available"], len(output.files))
    assert "faster-whisper" in transcript["hint"]


def test_a_transcript_not_asked_for_reports_itself_unavailable(tmp_path: Path) -> None:
    """``enable_transcription=false``: only the RTTM, and the transcript says it was not asked for."""
    clip = speech_clip(tmp_path / "talk", speech=SPEECH[:1], seconds=4)
    output = run_processor(VIDEO_AUDIO_PROCESSING, clip, tmp_path, enable_transcription=False)
    transcript = output.result["transcript"]
    assert (False, "transcription was not asked for", 1) == (
        transcript["available"],
        transcript["reason"],
        len(output.files),
    )


def test_a_silent_video_has_no_speech(tmp_path: Path) -> None:
    """A clip without a sound track gives an empty RTTM, not an error."""
    clip = cut_clip(tmp_path / "mute", cut_frames=[10], total_frames=20)
    output = run_processor(VIDEO_AUDIO_PROCESSING, clip, tmp_path)
    assert (0, "", False) == (
        output.result["annotation_count"],
        output.files[0].path.read_text(),
        output.result["has_audio"],
    )
