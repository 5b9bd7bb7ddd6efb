"""The tracker keeps one id per object across frames."""

from __future__ import annotations

from mediaforge.video.tracking import Tracker, iou


def test_two_objects_moving_apart_keep_their_ids() -> None:
    """Each box keeps the id it started with while both move across five frames."""
    tracker = Tracker(high_score=0.5)
    seen = []
    for step in range(5):
        left = (10.0 + 8 * step, 10.0, 60.0 + 8 * step, 110.0)
        right = (300.0 - 8 * step, 20.0, 350.0 - 8 * step, 120.0)
        seen.append(tracker.update(step * 0.2, [right, left] if step % 2 else [left, right], [0.9, 0.9]))
    ids = [ids if step % 2 == 0 else ids[::-1] for step, ids in enumerate(seen)]
    assert [[1, 2]] * 5 == ids


def test_a_box_that_jumps_between_sparse_samples_is_still_followed() -> None:
    """No overlap, but the nearest centre within the gate continues the track."""
    tracker = Tracker(high_score=0.5)
    tracker.update(0.0, [(0.0, 0.0, 40.0, 100.0)], [0.9])
    assert [1] == tracker.update(0.5, [(45.0, 0.0, 85.0, 100.0)], [0.9])


def test_a_track_unseen_past_max_age_is_not_revived() -> None:
    """After ``max_age`` seconds away, the same place gets a new id."""
    tracker = Tracker(high_score=0.5, max_age=1.0)
    tracker.update(0.0, [(0.0, 0.0, 50.0, 50.0)], [0.9])
    assert [2] == tracker.update(2.0, [(0.0, 0.0, 50.0, 50.0)], [0.9])


def test_a_weak_detection_continues_a_track_but_never_starts_one() -> None:
    """Below ``high_score`` a box may only extend an existing track."""
    tracker = Tracker(high_score=0.6, low_score=0.3)
    assert [None] == tracker.update(0.0, [(0.0, 0.0, 50.0, 50.0)], [0.4])
    tracker.update(0.2, [(0.0, 0.0, 50.0, 50.0)], [0.9])
    assert [1] == tracker.update(0.4, [(2.0, 0.0, 52.0, 50.0)], [0.4])


def test_iou_of_half_overlapping_boxes() -> None:
    """Two 10x10 boxes sharing half their area have IoU 1/3."""
    assert round(1 / 3, 6) == round(iou((0, 0, 10, 10), (5, 0, 15, 10)), 6)
