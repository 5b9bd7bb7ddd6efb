"""Faces in video: BlazeFace detection on sampled frames, six landmarks, stable face ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mediaforge.video.coco import frame_image_id
from mediaforge.video.frames import Frame, rgb_frames
from mediaforge.video.models import FACE_DETECTORS
from mediaforge.video.tracking import Box, Tracker, iou

__all__ = ["FACE_KEYPOINTS", "FaceModel", "TrackedFace", "detect_faces", "face_annotation", "track_faces"]

FACE_KEYPOINTS = [
    "right_eye",
    "left_eye",
    "nose_tip",
    "mouth_center",
    "right_ear_tragion",
    "left_ear_tragion",
]
FaceModel = Literal["short_range", "full_range"]
_MODELS = {"short_range": 0, "full_range": 1}


@dataclass(frozen=True, slots=True)
class FaceDetection:
    """A face in one frame: box (x1, y1, x2, y2) in pixels, score, six (x, y) landmarks."""

    box: Box
    score: float
    landmarks: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class TrackedFace:
    track_id: int
    frame_number: int
    time: float
    face: FaceDetection


def detect_faces(rgb: np.ndarray, *, model: FaceModel, min_score: float) -> list[FaceDetection]:
    """Faces in one RGB frame scoring at least ``min_score``, best first."""
    height, width = rgb.shape[:2]
    detectors = FACE_DETECTORS.get()
    with FACE_DETECTORS.lock:
        found = detectors[_MODELS[model]].process(np.ascontiguousarray(rgb)).detections or []
    faces = []
    for detection in found:
        score = float(detection.score[0])
        if score < min_score:
            continue
        box = detection.location_data.relative_bounding_box
        x1, y1 = max(0.0, box.xmin * width), max(0.0, box.ymin * height)
        x2 = min(float(width), (box.xmin + box.width) * width)
        y2 = min(float(height), (box.ymin + box.height) * height)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        points = [(p.x * width, p.y * height) for p in detection.location_data.relative_keypoints]
        faces.append(FaceDetection((x1, y1, x2, y2), score, points))
    faces.sort(key=lambda f: f.score, reverse=True)
    kept: list[FaceDetection] = []
    for face in faces:
        if all(iou(face.box, k.box) < 0.5 for k in kept):
            kept.append(face)
    return kept


def track_faces(
    path: Path,
    *,
    fps: float,
    video_width: int,
    sample_fps: float,
    model: FaceModel,
    min_score: float,
    max_faces: int,
    max_side: int = 960,
    max_age: float = 1.0,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[list[TrackedFace], list[Frame], int]:
    """Sampled frames of ``path`` with their tracked faces (coordinates in the video's pixels)."""
    tracker = Tracker(high_score=min_score, low_score=min_score, max_age=max_age, max_tracks=max_faces)
    faces: list[TrackedFace] = []
    frames: list[Frame] = []
    for frame in rgb_frames(path, sample_fps=sample_fps, max_side=max_side, frame_rate=fps):
        scale = video_width / frame.pixels.shape[1]
        found = detect_faces(frame.pixels, model=model, min_score=min_score)[:max_faces]
        ids = tracker.update(frame.time, [f.box for f in found], [f.score for f in found])
        for track_id, face in zip(ids, found, strict=True):
            if track_id is not None:
                faces.append(TrackedFace(track_id, frame.number, frame.time, _scaled(face, scale)))
        frames.append(Frame(frame.number, frame.time, np.empty(0, dtype=np.uint8)))
        if on_frame is not None:
            on_frame(frame.number)
    return faces, frames, tracker.started


def _scaled(face: FaceDetection, scale: float) -> FaceDetection:
    box = (face.box[0] * scale, face.box[1] * scale, face.box[2] * scale, face.box[3] * scale)
    return FaceDetection(box, face.score, [(x * scale, y * scale) for x, y in face.landmarks])


def face_annotation(
    face: TrackedFace, annotation_id: int, video_id: str, *, landmarks: bool
) -> dict[str, Any]:
    """One COCO annotation for a face (category 1, ``face``); six keypoints when ``landmarks``."""
    x1, y1, x2, y2 = face.face.box
    annotation: dict[str, Any] = {
        "id": annotation_id,
        "image_id": frame_image_id(face.frame_number),
        "category_id": 1,
        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
        "area": round((x2 - x1) * (y2 - y1), 2),
        "iscrowd": 0,
        "score": round(face.face.score, 4),
        "track_id": face.track_id,
        "face_id": f"face_{video_id}_{face.track_id:03d}",
        "timestamp": round(face.time, 6),
        "frame_number": face.frame_number,
    }
    if landmarks:
        keypoints: list[float] = []
        for x, y in face.face.landmarks:
            keypoints += [round(x, 2), round(y, 2), 2]
        annotation["keypoints"] = keypoints
        annotation["num_keypoints"] = len(face.face.landmarks)
    return annotation
