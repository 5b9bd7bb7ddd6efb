"""A ByteTrack-style multi-object tracker: stable ids from per-frame boxes.

Each track predicts its box forward at constant velocity. Confident detections are matched
to tracks first (highest IoU first, then nearest centre for boxes that moved further than
they overlap between sparse samples); weaker detections may then only continue a track, never
start one. A track not seen for ``max_age`` seconds ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Box", "Tracker", "iou"]

Box = tuple[float, float, float, float]
"""x1, y1, x2, y2 in pixels."""


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between centres, relative to the larger box's diagonal."""
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    scale = max(np.hypot(a[2] - a[0], a[3] - a[1]), np.hypot(b[2] - b[0], b[3] - b[1]), 1e-6)
    return float(np.hypot(dx, dy) / scale)


@dataclass
class _Track:
    id: int
    box: Box
    time: float
    velocity: tuple[float, float] = (0.0, 0.0)
    hits: int = 1
    scores: list[float] = field(default_factory=list)

    def predicted(self, time: float) -> Box:
        dt = time - self.time
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        return (self.box[0] + dx, self.box[1] + dy, self.box[2] + dx, self.box[3] + dy)

    def update(self, box: Box, time: float, score: float) -> None:
        dt = time - self.time
        if dt > 0:
            cx = ((box[0] + box[2]) - (self.box[0] + self.box[2])) / 2 / dt
            cy = ((box[1] + box[3]) - (self.box[1] + self.box[3])) / 2 / dt
            self.velocity = (0.5 * self.velocity[0] + 0.5 * cx, 0.5 * self.velocity[1] + 0.5 * cy)
        self.box, self.time = box, time
        self.hits += 1
        self.scores.append(score)


class Tracker:
    """Assigns track ids to the detections of successive frames."""

    def __init__(
        self,
        *,
        high_score: float = 0.5,
        low_score: float = 0.2,
        min_iou: float = 0.2,
        max_distance: float = 0.6,
        max_age: float = 1.5,
        max_tracks: int | None = None,
    ) -> None:
        self.high_score, self.low_score = high_score, low_score
        self.min_iou, self.max_distance = min_iou, max_distance
        self.max_age = max_age
        self.max_tracks = max_tracks
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def started(self) -> int:
        """How many tracks have been started so far."""
        return self._next_id - 1

    def update(self, time: float, boxes: list[Box], scores: list[float]) -> list[int | None]:
        """The track id of each detection at ``time`` (``None`` for one left unassigned)."""
        self._tracks = [t for t in self._tracks if time - t.time <= self.max_age]
        assigned: list[int | None] = [None] * len(boxes)
        free = list(self._tracks)
        strong = [i for i, s in enumerate(scores) if s >= self.high_score]
        weak = [i for i, s in enumerate(scores) if self.low_score <= s < self.high_score]
        for group in (strong, weak):
            for det, track in self._match(time, group, boxes, free):
                track.update(boxes[det], time, scores[det])
                assigned[det] = track.id
                free.remove(track)
        for det in strong:
            if assigned[det] is None and (self.max_tracks is None or len(self._live(time)) < self.max_tracks):
                track = _Track(self._next_id, boxes[det], time, scores=[scores[det]])
                self._next_id += 1
                self._tracks.append(track)
                assigned[det] = track.id
        return assigned

    def _live(self, time: float) -> list[_Track]:
        return [t for t in self._tracks if t.time == time]

    def _match(
        self, time: float, dets: list[int], boxes: list[Box], tracks: list[_Track]
    ) -> list[tuple[int, _Track]]:
        pairs: list[tuple[float, int, int]] = []
        for d in dets:
            for k, track in enumerate(tracks):
                predicted = track.predicted(time)
                overlap = iou(boxes[d], predicted)
                if overlap >= self.min_iou:
                    pairs.append((overlap + 1.0, d, k))
                else:
                    distance = _centre_distance(boxes[d], predicted)
                    if distance <= self.max_distance:
                        pairs.append((1.0 - distance, d, k))
        matches: list[tuple[int, _Track]] = []
        used_d: set[int] = set()
        used_k: set[int] = set()
        for _, d, k in sorted(pairs, reverse=True):
            if d not in used_d and k not in used_k:
                used_d.add(d)
                used_k.add(k)
                matches.append((d, tracks[k]))
        return matches
