"""Cut decisions and shot boundaries from content scores (pure functions)."""

from __future__ import annotations

import numpy as np

from mediaforge.video.scenes import find_cuts, scenes_from_cuts


def test_a_score_at_the_threshold_is_a_cut() -> None:
    """Frames whose change reaches the threshold start new shots."""
    scores = np.array([0, 2, 3, 40, 2, 1, 2, 27, 3, 1.0])
    assert [3, 7] == find_cuts(scores, threshold=27, min_scene_frames=2)


def test_a_cut_too_soon_after_the_last_is_dropped() -> None:
    """A jump within ``min_scene_frames`` of the last cut (or the start) is not a new shot."""
    scores = np.array([0, 50, 1, 1, 50, 60, 1, 1, 1, 1, 45, 1.0])
    assert [4, 10] == find_cuts(scores, threshold=27, min_scene_frames=3)


def test_adaptive_ignores_a_fast_camera_move() -> None:
    """Steady high scores (a whip pan) are no cut for the adaptive rule; a lone spike is."""
    pan = np.array([0, 35, 38, 36, 40, 37, 36, 39, 2, 2, 90, 2, 2.0])
    assert [1, 2, 3, 4, 5, 6, 7, 10] == find_cuts(pan, threshold=30, min_scene_frames=1)
    assert [10] == find_cuts(pan, threshold=30, min_scene_frames=1, method="adaptive")


def test_frame_zero_is_never_a_cut() -> None:
    """The first frame starts the first shot; it is not reported as a cut."""
    assert [] == find_cuts(np.array([99.0, 1.0, 1.0]), threshold=27, min_scene_frames=1)


def test_shots_run_between_cuts_and_the_last_ends_one_frame_after_the_clip() -> None:
    """Scene boundaries use the frames' own times; the last shot ends at the clip's end."""
    times = np.arange(10) / 25
    scenes = scenes_from_cuts([4], times, 1 / 25)
    assert [(0, 4, 0.0, 0.16), (4, 10, 0.16, 0.4)] == [
        (s.start_frame, s.end_frame, round(s.start_time, 6), round(s.end_time, 6)) for s in scenes
    ]
