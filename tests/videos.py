"""Video clips the tests make: known cuts, speech at known times, moving people, moving faces.

Every clip is encoded with PyAV (FFmpeg's own encoders: H.264 in MP4/MOV/MKV, MPEG-4 Part 2 in
AVI, VP8 in WebM). Frames are built from the real photos scikit-image's wheel ships (read as
files, without importing scikit-image) and speech is rendered with Debian's espeak-ng, so the
annotators see real content and the ground truth is known exactly.
"""

from __future__ import annotations

import functools
import itertools
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image
from tests.samples import require, sample_photo

from mediaforge.processors.base import InputFile, Output, Processor

__all__ = [
    "ASTRONAUT",
    "CAMERAMAN",
    "Figure",
    "LocalContext",
    "cut_clip",
    "encode",
    "face_clip",
    "people_boxes",
    "people_clip",
    "photo",
    "run_processor",
    "speech_clip",
    "speech_track",
]

_VIDEO_CODECS = {"mp4": "libx264", "mov": "libx264", "mkv": "libx264", "avi": "mpeg4", "webm": "libvpx"}
_AUDIO_CODECS = {"mp4": "aac", "mov": "aac", "mkv": "aac", "avi": "pcm_s16le", "webm": "libopus"}
_SHOT_PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "camera.png",
    "motorcycle_left.png",
)


# --- sources ------------------------------------------------------------------------------------
@functools.cache
def photo(name: str) -> np.ndarray:
    """A sample photo from the scikit-image wheel as a read-only RGB array."""
    array = np.asarray(sample_photo(name))
    array.setflags(write=False)
    return array


def _resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR))


@functools.cache
def _spoken(text: str, sample_rate: int) -> np.ndarray:
    """``text`` said by espeak-ng, as int16 mono samples at ``sample_rate``."""
    require("espeak-ng and sox", bool(shutil.which("espeak-ng") and shutil.which("sox")))
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "160", "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16", str(out)], check=True)
        with wave.open(str(out), "rb") as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    samples.setflags(write=False)
    return samples


# --- encoding -----------------------------------------------------------------------------------
def encode(
    path: Path,
    frames: Iterable[np.ndarray],
    *,
    fps: int = 25,
    audio: np.ndarray | None = None,
    sample_rate: int = 44100,
    codec: str | None = None,
    preset: str = "veryfast",
    crf: int = 18,
) -> Path:
    """Write RGB ``frames`` and optional int16 mono ``audio`` to ``path``; its suffix picks the container."""
    import av

    container_name = path.suffix.lstrip(".").lower()
    with av.open(str(path), "w") as container:
        video = None
        audio_stream = None
        if audio is not None:
            audio_codec = _AUDIO_CODECS[container_name]
            rate = 48000 if audio_codec == "libopus" else sample_rate
            audio_stream = container.add_stream(audio_codec, rate=rate, layout="mono")
        for index, pixels in enumerate(frames):
            if video is None:
                video = container.add_stream(codec or _VIDEO_CODECS[container_name], rate=fps)
                video.width, video.height = pixels.shape[1], pixels.shape[0]
                video.pix_fmt = "yuv420p"
                if video.codec_context.name == "libx264":
                    video.codec_context.options = {"preset": preset, "crf": str(crf)}
                elif video.codec_context.name == "libvpx":
                    video.codec_context.options = {"deadline": "realtime", "cpu-used": "8", "crf": "10"}
                    video.codec_context.bit_rate = 4_000_000
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
        assert video is not None, "a clip needs at least one frame"
        container.mux(video.encode(None))
        if audio is not None and audio_stream is not None:
            _encode_audio(container, audio_stream, audio, sample_rate)
    return path


def _encode_audio(container: object, stream: object, samples: np.ndarray, sample_rate: int) -> None:
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=stream.rate)  # type: ignore[attr-defined]
    chunk = 1024
    for start in range(0, len(samples), chunk):
        block = np.ascontiguousarray(samples[start : start + chunk].reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = start
        frame.time_base = Fraction(1, sample_rate)
        for resampled in resampler.resample(frame):
            container.mux(stream.encode(resampled))  # type: ignore[attr-defined]
    for resampled in resampler.resample(None):
        container.mux(stream.encode(resampled))  # type: ignore[attr-defined]
    container.mux(stream.encode(None))  # type: ignore[attr-defined]


# --- cuts ---------------------------------------------------------------------------------------
def cut_clip(
    path: Path,
    *,
    cut_frames: list[int],
    total_frames: int,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    container: str = "mp4",
) -> Path:
    """Shots from different photos, each slowly panning and zooming, with cuts exactly at ``cut_frames``.

    A cut at frame ``k`` means frame ``k`` is the first frame of a new shot.
    """
    path = path.with_suffix(f".{container}")
    bounds = [0, *sorted(cut_frames), total_frames]
    assert all(a < b for a, b in itertools.pairwise(bounds)), "cuts must be inside the clip"

    def frames() -> Iterator[np.ndarray]:
        for shot, (start, end) in enumerate(itertools.pairwise(bounds)):
            source = photo(_SHOT_PHOTOS[shot % len(_SHOT_PHOTOS)])
            if shot >= len(_SHOT_PHOTOS):  # more shots than photos: mirror, then tint, to stay distinct
                source = np.ascontiguousarray(source[:, ::-1] // 2 + 60)
            for offset in range(end - start):
                yield _pan(source, offset, size)

    return encode(path, frames(), fps=fps)


def _pan(source: np.ndarray, offset: int, size: tuple[int, int]) -> np.ndarray:
    """A window over ``source`` that drifts right and zooms in slowly (a camera move, no cut)."""
    height, width = source.shape[:2]
    zoom = 0.8 - 0.002 * offset
    crop_w, crop_h = int(width * zoom), int(height * zoom)
    x = min(width - crop_w, 2 * offset)
    y = min(height - crop_h, offset)
    return _resized(np.ascontiguousarray(source[y : y + crop_h, x : x + crop_w]), *size)


# --- speech -------------------------------------------------------------------------------------
def speech_track(
    speech: Sequence[tuple[float, str]],
    *,
    seconds: float,
    sample_rate: int = 44100,
    noise: float = 0.002,
    merge_gap: float = 0.3,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """An int16 mono track with each text spoken from its start time, and the true speech intervals.

    The intervals are measured on the rendered speech: 10 ms windows above 2 % of full scale,
    joined across pauses shorter than ``merge_gap`` (the pauses between words). ``noise`` adds a
    faint white noise floor (a fraction of full scale), as a real room has.
    """
    track = np.zeros(int(seconds * sample_rate), dtype=np.float64)
    loud = np.zeros_like(track, dtype=bool)
    window = sample_rate // 100
    for start, text in speech:
        samples = _spoken(text, sample_rate).astype(np.float64)
        at = int(start * sample_rate)
        assert at + len(samples) <= len(track), f"{text!r} does not fit before {seconds} s"
        track[at : at + len(samples)] += samples
        usable = len(samples) // window * window
        peaks = np.abs(samples[:usable]).reshape(-1, window).max(axis=1) > 0.02 * 32767
        loud[at : at + usable] |= np.repeat(peaks, window)
    rng = np.random.default_rng(7)
    track += rng.normal(0.0, noise * 32767, len(track))
    intervals = _spans(loud, sample_rate, merge_gap)
    return np.clip(track, -32768, 32767).astype(np.int16), intervals


def _spans(loud: np.ndarray, sample_rate: int, merge_gap: float) -> list[tuple[float, float]]:
    edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
    spans: list[tuple[float, float]] = []
    for begin, end in zip(edges[::2], edges[1::2], strict=True):
        start, stop = begin / sample_rate, end / sample_rate
        if spans and start - spans[-1][1] < merge_gap:
            spans[-1] = (spans[-1][0], stop)
        else:
            spans.append((start, stop))
    return [(round(float(a), 3), round(float(b), 3)) for a, b in spans]


def speech_clip(
    path: Path,
    *,
    speech: Sequence[tuple[float, str]],
    seconds: float,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    sample_rate: int = 44100,
    container: str = "mp4",
) -> Path:
    """A clip with a moving gradient and a sound track speaking each text from its start time.

    The true speech intervals are ``speech_track(speech, seconds=seconds, sample_rate=...)[1]``.
    """
    path = path.with_suffix(f".{container}")
    samples, _ = speech_track(speech, seconds=seconds, sample_rate=sample_rate)
    width, height = size
    ramp = np.linspace(0, 255, width, dtype=np.float64)

    def frames() -> Iterator[np.ndarray]:
        for index in range(round(seconds * fps)):
            row = (ramp + 4 * index) % 256
            frame = np.empty((height, width, 3), dtype=np.uint8)
            frame[:] = np.stack([row, row[::-1], np.full(width, 128.0)], axis=-1).astype(np.uint8)
            yield frame

    return encode(path, frames(), fps=fps, audio=samples, sample_rate=sample_rate)


# --- people -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Figure:
    """A person photo pasted at ``height`` pixels tall, moving in a straight line from ``start`` to ``end``.

    ``start``/``end`` are the top-left corner in the first and last frame; ``crop`` picks the
    part of the photo that shows the person (left, top, right, bottom).
    """

    photo: str
    start: tuple[int, int]
    end: tuple[int, int]
    height: int
    crop: tuple[int, int, int, int] | None = None

    def sprite(self) -> np.ndarray:
        pixels = photo(self.photo)
        if self.crop:
            left, top, right, bottom = self.crop
            pixels = np.ascontiguousarray(pixels[top:bottom, left:right])
        width = round(pixels.shape[1] * self.height / pixels.shape[0])
        return _resized(pixels, width, self.height)

    def box(self, index: int, total_frames: int) -> tuple[int, int, int, int]:
        """The sprite's (x, y, width, height) in frame ``index``."""
        t = index / max(1, total_frames - 1)
        x = round(self.start[0] + t * (self.end[0] - self.start[0]))
        y = round(self.start[1] + t * (self.end[1] - self.start[1]))
        sprite = self.sprite()
        return x, y, sprite.shape[1], sprite.shape[0]


ASTRONAUT = Figure("astronaut.png", start=(10, 40), end=(150, 50), height=300, crop=(0, 0, 400, 512))
CAMERAMAN = Figure("camera.png", start=(620, 30), end=(500, 40), height=320, crop=(80, 0, 400, 512))


def _background(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    grass = photo("grass.png")
    tiles = np.tile(grass, (height // grass.shape[0] + 1, width // grass.shape[1] + 1, 1))
    return np.ascontiguousarray(tiles[:height, :width] // 3 + 90)


def _paste(frame: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    height, width = frame.shape[:2]
    left, top = max(0, x), max(0, y)
    right, bottom = min(width, x + sprite.shape[1]), min(height, y + sprite.shape[0])
    if right > left and bottom > top:
        frame[top:bottom, left:right] = sprite[top - y : bottom - y, left - x : right - x]


def people_clip(
    path: Path,
    *,
    total_frames: int = 50,
    fps: int = 25,
    size: tuple[int, int] = (960, 540),
    figures: Sequence[Figure] = (ASTRONAUT, CAMERAMAN),
    container: str = "mp4",
) -> Path:
    """Real photos of people (the astronaut, the cameraman) moving across a grass background."""
    path = path.with_suffix(f".{container}")
    background = _background(size)
    sprites = [figure.sprite() for figure in figures]

    def frames() -> Iterator[np.ndarray]:
        for index in range(total_frames):
            frame = background.copy()
            for figure, sprite in zip(figures, sprites, strict=True):
                x, y, _, _ = figure.box(index, total_frames)
                _paste(frame, sprite, x, y)
            yield frame

    return encode(path, frames(), fps=fps)


def people_boxes(
    index: int, total_frames: int, figures: Sequence[Figure] = (ASTRONAUT, CAMERAMAN)
) -> list[tuple[int, int, int, int]]:
    """Each figure's (x, y, width, height) in frame ``index`` of a ``people_clip``."""
    return [figure.box(index, total_frames) for figure in figures]


# --- faces --------------------------------------------------------------------------------------
def face_clip(
    path: Path,
    *,
    faces: int = 1,
    total_frames: int = 40,
    fps: int = 25,
    size: tuple[int, int] = (640, 360),
    container: str = "mp4",
) -> Path:
    """The astronaut's head and shoulders moving and growing; with ``faces=2`` a mirrored copy too."""
    assert faces in (0, 1, 2)
    path = path.with_suffix(f".{container}")
    head = np.ascontiguousarray(photo("astronaut.png")[0:300, 100:340])
    background = _background(size)
    width, height = size

    def frames() -> Iterator[np.ndarray]:
        for index in range(total_frames):
            t = index / max(1, total_frames - 1)
            side = round(150 + 60 * t)
            sprite = _resized(head, side * head.shape[1] // head.shape[0], side)
            frame = background.copy()
            if faces >= 1:
                _paste(frame, sprite, round(20 + 120 * t), round(20 + 20 * t))
            if faces == 2:
                _paste(
                    frame, sprite[:, ::-1], round(width - sprite.shape[1] - 20 - 80 * t), height - side - 10
                )
            yield frame

    return encode(path, frames(), fps=fps)


# --- running a processor outside the engine --------------------------------------------------------
class LocalContext:
    """The processor ``Context`` without an engine: records progress, never cancelled."""

    job_id = "local"
    attempt = 1

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.progress_seen: list[float] = []

    def progress(self, percent: float, message: str | None = None) -> None:
        self.progress_seen.append(percent)

    def check_cancelled(self) -> None:
        return None

    def log(self, event: str, **fields: object) -> None:
        return None


def run_processor(processor: Processor, clip: Path, tmp_path: Path, **params: object) -> Output:
    """Run ``processor`` on ``clip`` as the engine would (validated params, one input file)."""
    availability = processor.availability()
    require(f"{processor.name} ({availability.reason})", availability.available)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    source = InputFile("asset", clip, clip.name, "video/mp4", clip.stat().st_size)
    return processor.run(LocalContext(out), [source], processor.parse_params(dict(params)))


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance over the reference's word count (lowercased, no punctuation)."""
    ref, hyp = _words(reference), _words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1] / max(1, len(ref))
