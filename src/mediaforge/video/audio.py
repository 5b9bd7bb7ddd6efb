"""A video's sound track as mono samples, and where in it someone speaks.

Decoding: PyAV decodes the first audio stream and resamples it to mono at the asked rate.
Samples are placed by their container timestamps, on the video's timeline (AAC priming
samples before zero are dropped; a track starting late is preceded by silence).

Voice activity, two backends:

* ``silero``: the Silero VAD v5 network (its ONNX file ships in the ``silero-vad`` wheel), run
  with onnxruntime on 32 ms windows at 16 kHz: a speech probability per window.
* ``webrtc``: Google's WebRTC VAD (GMM), 30 ms frames: speech or not.

Both become segments the same way: speech starts when a window crosses ``threshold``, ends
after ``min_silence`` seconds below it; segments shorter than ``min_speech`` are dropped and
each is padded by ``pad`` seconds.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mediaforge.tagging.lazy import Lazy
from mediaforge.video.probe import InvalidVideo

__all__ = [
    "Segment",
    "VadBackend",
    "decode_audio",
    "segments_from_activity",
    "silero_model_path",
    "speech_segments",
    "vad_available",
]

VadBackend = Literal["silero", "webrtc"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech, in seconds on the video's timeline."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def decode_audio(
    path: Path, *, sample_rate: int, on_progress: Callable[[float], None] | None = None
) -> np.ndarray:
    """The first audio track of ``path`` as float32 mono samples in [-1, 1] at ``sample_rate``."""
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidVideo(f"cannot open video: {exc}") from exc
    with container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        stream = container.streams.audio[0]
        origin = _origin(container)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        start: float | None = None
        try:
            for frame in container.decode(stream):
                if start is None and frame.pts is not None:
                    start = float(frame.pts * (frame.time_base or 0)) - origin
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                if on_progress is not None and frame.time is not None:
                    on_progress(frame.time - origin)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            if not chunks:
                raise InvalidVideo(f"cannot decode the audio track: {exc}") from exc
    samples = np.concatenate(chunks).astype(np.float32) / 32768.0 if chunks else np.zeros(0, np.float32)
    shift = round((start or 0.0) * sample_rate)
    if shift < 0:
        return samples[-shift:]
    return np.concatenate([np.zeros(shift, dtype=np.float32), samples]) if shift else samples


def _origin(container: Any) -> float:
    """The timeline's zero: where the video stream starts (else the container)."""
    if container.streams.video:
        video = container.streams.video[0]
        if video.start_time is not None:
            return float(video.start_time * video.time_base)
    return float(container.start_time or 0) / 1_000_000


def silero_model_path() -> Path | None:
    """The Silero VAD ONNX file inside the installed ``silero-vad`` wheel, found without importing it
    (its ``__init__`` imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    return path if path.is_file() else None


def vad_available(backend: VadBackend) -> tuple[bool, str | None]:
    """Whether ``backend`` can run here, and if not, why."""
    if backend == "silero":
        if importlib.util.find_spec("onnxruntime") is None:
            return False, "onnxruntime is not installed"
        if silero_model_path() is None:
            return False, "the silero-vad wheel (its ONNX model) is not installed"
        return True, None
    if importlib.util.find_spec("webrtcvad") is None:
        return False, "webrtcvad is not installed"
    return True, None


def _silero_session() -> Any:
    import onnxruntime as ort  # type: ignore[import-untyped]  # ships no type hints

    path = silero_model_path()
    if path is None:
        raise RuntimeError("silero-vad is not installed")
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


SILERO: Lazy[Any] = Lazy(_silero_session)


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target or len(samples) == 0:
        return samples
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
    out = [f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _silero_probabilities(samples: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
    """Speech probability per 32 ms window at 16 kHz (8 kHz audio runs at 8 kHz)."""
    vad_rate = 8000 if rate == 8000 else 16000
    audio = _resample(samples, rate, vad_rate)
    window, context = (256, 32) if vad_rate == 8000 else (512, 64)
    session = SILERO.get()
    state = np.zeros((2, 1, 128), dtype=np.float32)
    previous = np.zeros(context, dtype=np.float32)
    sr = np.array(vad_rate, dtype=np.int64)
    count = len(audio) // window
    probabilities = np.empty(count, dtype=np.float32)
    with SILERO.lock:
        for index in range(count):
            chunk = audio[index * window : (index + 1) * window]
            joined = np.concatenate([previous, chunk]).reshape(1, -1)
            out, state = session.run(None, {"input": joined, "state": state, "sr": sr})
            probabilities[index] = out[0, 0]
            previous = chunk[-context:]
    return probabilities, window / vad_rate


def _webrtc_activity(samples: np.ndarray, rate: int, aggressiveness: int) -> tuple[np.ndarray, float]:
    """1.0 for each 30 ms frame WebRTC VAD calls speech, else 0.0."""
    import webrtcvad  # type: ignore[import-untyped]  # ships no type hints

    vad_rate = rate if rate in (8000, 16000, 32000, 48000) else 16000
    audio = _resample(samples, rate, vad_rate)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    step = vad_rate * 30 // 1000
    vad = webrtcvad.Vad(aggressiveness)
    count = len(audio) // step
    activity = np.array(
        [vad.is_speech(pcm[i * step * 2 : (i + 1) * step * 2], vad_rate) for i in range(count)],
        dtype=np.float32,
    )
    return activity, step / vad_rate


def segments_from_activity(
    activity: np.ndarray,
    window: float,
    *,
    threshold: float,
    min_speech: float,
    min_silence: float,
    pad: float,
    duration: float,
) -> list[Segment]:
    """Speech segments from per-window speech scores (hysteresis: ends 0.15 below ``threshold``)."""
    release = max(0.0, threshold - 0.15)
    segments: list[Segment] = []
    start: int | None = None
    quiet = 0
    needed_quiet = max(1, round(min_silence / window))
    for index, score in enumerate(activity):
        if start is None:
            if score >= threshold:
                start, quiet = index, 0
        elif score < release or (release == 0.0 and score < threshold):
            quiet += 1
            if quiet >= needed_quiet:
                segments.append(Segment(start * window, (index - quiet + 1) * window))
                start = None
        else:
            quiet = 0
    if start is not None:
        segments.append(Segment(start * window, (len(activity) - quiet) * window))
    kept = [s for s in segments if s.duration >= min_speech]
    padded = [Segment(max(0.0, s.start - pad), min(duration, s.end + pad)) for s in kept]
    merged: list[Segment] = []
    for segment in padded:
        if merged and segment.start <= merged[-1].end:
            merged[-1] = Segment(merged[-1].start, max(merged[-1].end, segment.end))
        else:
            merged.append(segment)
    return merged


def speech_segments(
    samples: np.ndarray,
    rate: int,
    *,
    backend: VadBackend,
    threshold: float = 0.5,
    aggressiveness: int = 2,
    min_speech: float = 0.25,
    min_silence: float = 0.3,
    pad: float = 0.03,
) -> list[Segment]:
    """Where ``samples`` (mono float32 at ``rate``) hold speech."""
    if len(samples) == 0:
        return []
    if backend == "silero":
        activity, window = _silero_probabilities(samples, rate)
        cut = threshold
    else:
        activity, window = _webrtc_activity(samples, rate, aggressiveness)
        cut = 0.5
    return segments_from_activity(
        activity,
        window,
        threshold=cut,
        min_speech=min_speech,
        min_silence=min_silence,
        pad=pad,
        duration=len(samples) / rate,
    )
