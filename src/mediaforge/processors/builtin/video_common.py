"""What the ``video.*`` processors share: probing the input, progress, and writing annotation files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mediaforge.errors import MediaforgeError
from mediaforge.processors.base import Context, InputFile, PermanentFailure, RetryPolicy
from mediaforge.video.probe import VideoInfo, probe_video

__all__ = [
    "ML_VIDEO_INSTALL_HINT",
    "VIDEO_INSTALL_HINT",
    "VIDEO_RETRY",
    "Ticker",
    "probe_input",
    "video_facts",
    "write_json",
]

VIDEO_INSTALL_HINT = "pip install 'mediaforge[video]'"
ML_VIDEO_INSTALL_HINT = (
    "pip install 'mediaforge[video,ml]' && pip install --no-deps mediapipe==0.10.21  (or: make install)"
)

VIDEO_RETRY = RetryPolicy(non_retryable=frozenset({"invalid_video", "backend_unavailable"}))
"""A file that is not a video, or a backend that is not installed, fails the same way every time."""


def probe_input(source: InputFile) -> VideoInfo:
    """The input's video facts; a file that is not a decodable video fails for good."""
    try:
        return probe_video(source.path)
    except MediaforgeError as exc:
        raise PermanentFailure(exc.message, type=exc.code) from exc


def video_facts(info: VideoInfo) -> dict[str, Any]:
    """The ``video`` block of every result."""
    return {
        "duration_seconds": info.duration_seconds,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "frame_count": info.frame_count,
        "container": info.container,
        "video_codec": info.video_codec,
        "has_audio": info.has_audio,
    }


def write_json(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    return path


class Ticker:
    """Checks for cancellation and reports progress at most every ``interval`` seconds.

    ``total`` is the expected end of ``step`` (a frame number, a time); progress maps it onto
    ``start``..``end`` percent.
    """

    def __init__(
        self, ctx: Context, total: float, *, start: float = 0, end: float = 100, message: str | None = None
    ) -> None:
        self._ctx = ctx
        self._total = max(total, 1e-9)
        self._start, self._span = start, end - start
        self._message = message
        self._next = 0.0

    def __call__(self, step: float) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + 0.2
        self._ctx.check_cancelled()
        fraction = min(1.0, max(0.0, step / self._total))
        self._ctx.progress(self._start + self._span * fraction, self._message)
