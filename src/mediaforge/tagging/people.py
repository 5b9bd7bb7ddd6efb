"""Faces and people with mediapipe's legacy solutions (the .tflite models ship in its 0.10.21 wheel).

Faces come from the full-range BlazeFace detector, which finds small faces in group shots too.
The pose model finds at most one person, so ``persons`` is a lower bound: the larger of the
face count and whether a body was found.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from mediaforge.tagging.lazy import Lazy

__all__ = ["DETECTORS", "People", "count_faces", "count_people"]

_FACE_CONFIDENCE = 0.5
_POSE_VISIBILITY = 0.3
_MAX_SIDE = 1280


@dataclass(frozen=True)
class People:
    """How many faces were found, their scores, and at least how many people are shown."""

    faces: int
    persons: int
    face_scores: list[float]


@dataclass(frozen=True)
class _Detectors:
    faces: Any
    pose: Any


def _load() -> _Detectors:
    solutions = importlib.import_module("mediapipe.python.solutions")
    return _Detectors(
        faces=solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=_FACE_CONFIDENCE
        ),
        # model_complexity=1 is the only pose landmark model the wheel ships (0 and 2 download)
        pose=solutions.pose.Pose(static_image_mode=True, model_complexity=1),
    )


DETECTORS: Lazy[_Detectors] = Lazy(_load)


def count_faces(image: Image.Image, *, max_side: int = _MAX_SIDE) -> int:
    """Faces the full-range detector finds in ``image`` (scaled to ``max_side`` at most)."""
    pixels = _pixels(image, max_side)
    detectors = DETECTORS.get()
    with DETECTORS.lock:  # mediapipe graphs are not re-entrant
        return len(detectors.faces.process(pixels).detections or [])


def _pixels(image: Image.Image, max_side: int) -> np.ndarray:
    rgb = image.convert("RGB")
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(rgb))


def count_people(image: Image.Image) -> People:
    """Faces and people in ``image``."""
    pixels = _pixels(image, _MAX_SIDE)
    detectors = DETECTORS.get()
    with DETECTORS.lock:  # mediapipe graphs are not re-entrant
        faces = detectors.faces.process(pixels).detections or []
        landmarks = detectors.pose.process(pixels).pose_landmarks
    scores = sorted((round(float(d.score[0]), 4) for d in faces), reverse=True)
    body = landmarks is not None and _visibility(landmarks) >= _POSE_VISIBILITY
    return People(faces=len(scores), persons=max(len(scores), int(body)), face_scores=scores)


def _visibility(landmarks: Any) -> float:
    return float(np.mean([point.visibility for point in landmarks.landmark]))
