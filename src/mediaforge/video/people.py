"""People in video: BlazePose detection, 33-point pose landmarks, COCO keypoints and stable ids.

Per sampled frame: the pose detector runs on the whole frame and on square tiles across its
long side (people a third of the frame tall are too small for its 224-pixel input otherwise);
overlapping finds are merged. Each person's body region is cropped and the BlazePose landmark
model gives 33 points, of which the 17 COCO keypoints are kept. The tracker turns per-frame
people into tracks with stable ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mediaforge.video.coco import frame_image_id
from mediaforge.video.frames import Frame, rgb_frames
from mediaforge.video.models import Region, detect_poses, pose_landmarks
from mediaforge.video.tracking import Box, Tracker, iou

__all__ = [
    "COCO_KEYPOINTS",
    "COCO_SKELETON",
    "PeopleFinder",
    "PersonPose",
    "TrackedPerson",
    "coco_annotation",
    "detect_people",
    "track_people",
]

COCO_KEYPOINTS = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
]  # fmt: skip
COCO_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
    [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip
_BLAZEPOSE_TO_COCO = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
_VISIBLE = 0.5
_SAME_PERSON_IOU = 0.4


@dataclass(frozen=True, slots=True)
class PersonPose:
    """One person in one frame: box (x1, y1, x2, y2), detector score, 17 COCO keypoints (x, y, v)."""

    box: Box
    score: float
    keypoints: list[float]
    num_keypoints: int


@dataclass(frozen=True, slots=True)
class TrackedPerson:
    """A person in a sampled frame, with the id of their track."""

    track_id: int
    frame_number: int
    time: float
    pose: PersonPose


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) across the long side of a frame, overlapping, plus nothing else."""
    side = min(width, height)
    long = max(width, height)
    if long < 1.2 * side:
        return []
    count = math.ceil(long / side) + (1 if long / side > 1.5 else 0)
    starts = np.linspace(0, long - side, count).round().astype(int)
    return [(int(s), 0, side) if width >= height else (0, int(s), side) for s in starts]


def _merge(regions: list[Region]) -> list[Region]:
    kept: list[Region] = []
    for region in sorted(regions, key=lambda r: r.score, reverse=True):
        if all(iou(region.box, k.box) < _SAME_PERSON_IOU for k in kept):
            kept.append(region)
    return kept


def _pose(points: np.ndarray, width: int, height: int, score: float) -> PersonPose | None:
    """COCO keypoints and a box around the visible landmarks (with room for the top of the head)."""
    visible = points[points[:, 2] >= _VISIBLE]
    if len(visible) < 4:
        return None
    x1, y1 = visible[:, 0].min(), visible[:, 1].min()
    x2, y2 = visible[:, 0].max(), visible[:, 1].max()
    box = (
        max(0.0, float(x1 - 0.1 * (x2 - x1))),
        max(0.0, float(y1 - 0.25 * (y2 - y1))),
        min(float(width), float(x2 + 0.1 * (x2 - x1))),
        min(float(height), float(y2 + 0.05 * (y2 - y1))),
    )
    if box[2] - box[0] < 2 or box[3] - box[1] < 2:
        return None
    keypoints: list[float] = []
    count = 0
    for index in _BLAZEPOSE_TO_COCO:
        x, y, visibility = points[index]
        inside = 0 <= x < width and 0 <= y < height
        flag = 0 if not inside else (2 if visibility >= _VISIBLE else 1)
        count += flag > 0
        keypoints += [round(float(x), 2), round(float(y), 2), flag] if flag else [0.0, 0.0, 0]
    return PersonPose(box=box, score=score, keypoints=keypoints, num_keypoints=count)


def detect_people(rgb: np.ndarray, *, min_score: float) -> list[Region]:
    """Body regions of the people in ``rgb``: the detector on the whole frame and on square tiles."""
    height, width = rgb.shape[:2]
    regions = detect_poses(rgb)
    for x, y, side in _tiles(width, height):
        regions += detect_poses(rgb[y : y + side, x : x + side], offset=(x, y))
    return _merge([r for r in regions if r.score >= min_score])


def _inside(point: tuple[float, float], box: Box) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


class PeopleFinder:
    """People frame after frame: known people followed by their landmarks (mediapipe's own
    tracking rule), the detector run again every ``detect_every`` seconds to find newcomers."""

    def __init__(self, *, min_score: float, max_persons: int, detect_every: float) -> None:
        self.min_score, self.max_persons, self.detect_every = min_score, max_persons, detect_every
        self._last_detection = -math.inf

    def find(self, rgb: np.ndarray, time: float, follow: list[Region]) -> list[tuple[PersonPose, Region]]:
        """People in ``rgb``: first those in the ``follow`` regions, then any the detector finds."""
        height, width = rgb.shape[:2]
        found: list[tuple[PersonPose, Region]] = []

        def add(region: Region) -> None:
            result = pose_landmarks(rgb, region)
            if result is None:
                return
            pose = _pose(result[0], width, height, region.score)
            if pose is not None and all(iou(pose.box, p.box) < _SAME_PERSON_IOU for p, _ in found):
                found.append((pose, result[1]))

        for region in follow[: self.max_persons]:
            add(region)
        lost = len(found) < min(len(follow), self.max_persons)
        due = time - self._last_detection >= self.detect_every
        if (due or lost or not found) and len(found) < self.max_persons:
            self._last_detection = time
            for region in detect_people(rgb, min_score=self.min_score):
                if len(found) >= self.max_persons:
                    break
                if not any(_inside(region.centre, pose.box) for pose, _ in found):
                    add(region)
        return found


def track_people(
    path: Path,
    *,
    fps: float,
    video_width: int,
    sample_fps: float,
    min_score: float,
    max_persons: int,
    detect_every: float = 1.0,
    max_side: int = 960,
    max_age: float = 2.0,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[list[TrackedPerson], list[Frame], int]:
    """Sampled frames of ``path`` with their tracked people; also how many tracks started.

    The returned frames carry no pixels (an empty array) to keep memory flat.
    """
    tracker = Tracker(high_score=min_score, low_score=min_score, max_age=max_age, max_tracks=max_persons)
    finder = PeopleFinder(min_score=min_score, max_persons=max_persons, detect_every=detect_every)
    people: list[TrackedPerson] = []
    frames: list[Frame] = []
    follow: dict[int, Region] = {}
    for frame in rgb_frames(path, sample_fps=sample_fps, max_side=max_side, frame_rate=fps):
        scale = video_width / frame.pixels.shape[1]
        found = finder.find(frame.pixels, frame.time, list(follow.values()))
        ids = tracker.update(frame.time, [p.box for p, _ in found], [p.score for p, _ in found])
        follow = {}
        for track_id, (pose, following) in zip(ids, found, strict=True):
            if track_id is not None:
                follow[track_id] = following
                people.append(TrackedPerson(track_id, frame.number, frame.time, _rescaled(pose, scale)))
        frames.append(Frame(frame.number, frame.time, np.empty(0, dtype=np.uint8)))
        if on_frame is not None:
            on_frame(frame.number)
    return people, frames, tracker.started


def _rescaled(pose: PersonPose, scale: float) -> PersonPose:
    if abs(scale - 1.0) < 1e-9:
        return pose
    keypoints = [
        round(value * scale, 2) if index % 3 != 2 else value for index, value in enumerate(pose.keypoints)
    ]
    box = (pose.box[0] * scale, pose.box[1] * scale, pose.box[2] * scale, pose.box[3] * scale)
    return PersonPose(box, pose.score, keypoints, pose.num_keypoints)


def coco_annotation(person: TrackedPerson, annotation_id: int, video_id: str) -> dict[str, Any]:
    """One COCO keypoints annotation with the fields the VideoAnnotator viewer reads."""
    x1, y1, x2, y2 = person.pose.box
    width, height = x2 - x1, y2 - y1
    return {
        "id": annotation_id,
        "image_id": frame_image_id(person.frame_number),
        "category_id": 1,
        "keypoints": person.pose.keypoints,
        "num_keypoints": person.pose.num_keypoints,
        "bbox": [round(x1, 2), round(y1, 2), round(width, 2), round(height, 2)],
        "area": round(width * height, 2),
        "iscrowd": 0,
        "score": round(person.pose.score, 4),
        "track_id": person.track_id,
        "timestamp": round(person.time, 6),
        "frame_number": person.frame_number,
        "person_id": f"person_{video_id}_{person.track_id:03d}",
        "person_label": "person",
        "label_confidence": round(person.pose.score, 4),
        "labeling_method": "automatic_tracking",
    }
