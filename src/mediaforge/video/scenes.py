"""Shot boundaries from content differences between consecutive frames.

Each frame is shrunk to about 256 pixels (straight from the decoder's YUV planes), turned into
HSV, and scored against the previous frame as PySceneDetect's ContentDetector does: the mean
absolute change of hue, saturation and value, averaged (0-255). Two ways to call a cut:

* ``content``: the score reaches ``threshold`` (27 by default, PySceneDetect's default).
* ``adaptive``: the score is also ``adaptive_ratio`` times the mean score of the ``window``
  frames on either side, so a fast camera move (high scores on every frame) is not a cut.

A cut less than ``min_scene_frames`` after the previous one is dropped (flashes, fades).
Every time comes from the container's timestamps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mediaforge.video.frames import Frame, yuv_thumbnails

__all__ = ["Scene", "SceneCuts", "content_scores", "detect_scenes", "find_cuts", "scenes_from_cuts"]

Method = Literal["content", "adaptive"]


@dataclass(frozen=True, slots=True)
class Scene:
    """One shot: its first frame, the frame after its last, and their times in seconds."""

    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "scene_id": self.index,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "frame_count": self.end_frame - self.start_frame,
            "start_time": round(self.start_time, 6),
            "end_time": round(self.end_time, 6),
            "duration": round(self.end_time - self.start_time, 6),
        }


@dataclass(frozen=True)
class SceneCuts:
    """The cuts found in a video, with every frame's score and time."""

    cuts: list[int]
    scores: np.ndarray
    times: np.ndarray
    scenes: list[Scene]


def _hsv(yuv: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR), cv2.COLOR_BGR2HSV)


def content_scores(
    frames: Iterable[Frame], on_frame: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's content score against the one before (0 for the first) and each frame's time."""
    import cv2

    scores: list[float] = []
    times: list[float] = []
    previous: np.ndarray | None = None
    for frame in frames:
        hsv = _hsv(frame.pixels)
        if previous is None or previous.shape != hsv.shape:
            scores.append(0.0)
        else:
            scores.append(sum(cv2.sumElems(cv2.absdiff(hsv, previous))) / hsv.size)
        previous = hsv
        times.append(frame.time)
        if on_frame is not None:
            on_frame(frame.number)
    return np.asarray(scores), np.asarray(times)


def find_cuts(
    scores: np.ndarray,
    *,
    threshold: float,
    min_scene_frames: int,
    method: Method = "content",
    adaptive_ratio: float = 3.0,
    window: int = 2,
) -> list[int]:
    """The frames that start a new shot (never frame 0)."""
    candidates = scores >= threshold
    if method == "adaptive":
        padded = np.pad(scores, window, mode="edge")
        sums = np.convolve(padded, np.ones(2 * window + 1), mode="valid") - scores
        neighbours = sums / (2 * window)
        candidates &= scores >= adaptive_ratio * np.maximum(neighbours, 1e-6)
    cuts: list[int] = []
    last = 0
    for index in np.flatnonzero(candidates):
        if index == 0 or index - last < min_scene_frames:
            continue
        cuts.append(int(index))
        last = int(index)
    return cuts


def scenes_from_cuts(cuts: list[int], times: np.ndarray, frame_duration: float) -> list[Scene]:
    """Shots between the cuts; the last one ends one frame after the last frame."""
    if len(times) == 0:
        return []
    bounds = [0, *cuts, len(times)]
    end_time = float(times[-1]) + frame_duration
    scenes = []
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        stop_time = float(times[end]) if end < len(times) else end_time
        scenes.append(Scene(index, start, end, float(times[start]), stop_time))
    return scenes


def detect_scenes(
    path: Path,
    *,
    threshold: float = 27.0,
    min_scene_length: float = 0.6,
    fps: float,
    method: Method = "content",
    adaptive_ratio: float = 3.0,
    max_side: int = 256,
    on_frame: Callable[[int], None] | None = None,
) -> SceneCuts:
    """Decode every frame of ``path`` and find its shots."""
    scores, times = content_scores(yuv_thumbnails(path, max_side=max_side), on_frame)
    cuts = find_cuts(
        scores,
        threshold=threshold,
        min_scene_frames=max(1, round(min_scene_length * fps)),
        method=method,
        adaptive_ratio=adaptive_ratio,
    )
    return SceneCuts(cuts, scores, times, scenes_from_cuts(cuts, times, 1.0 / fps))
