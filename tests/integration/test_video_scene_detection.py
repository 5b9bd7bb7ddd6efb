"""``video.scene_detection`` finds the cuts of generated clips to the frame."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.videos import cut_clip, run_processor

from mediaforge.processors.builtin.video_scene_detection import VIDEO_SCENE_DETECTION
from mediaforge.video.scenes import detect_scenes

pytest.importorskip("av")
pytest.importorskip("cv2")

CUTS = [17, 40, 61, 90]


@pytest.mark.parametrize("container", ["mp4", "mov", "mkv", "webm", "avi"])
def test_cuts_are_found_within_one_frame(tmp_path: Path, container: str) -> None:
    """Four cuts among panning shots: each found within ±1 frame, and nothing else."""
    clip = cut_clip(tmp_path / "cuts", cut_frames=CUTS, total_frames=120, container=container)
    found = detect_scenes(clip, fps=25, min_scene_length=0.4).cuts
    assert len(CUTS) == len(found)
    assert all(abs(f - c) <= 1 for f, c in zip(found, CUTS, strict=True)), found


def test_cut_times_come_from_the_container_timestamps(tmp_path: Path) -> None:
    """At 30 fps the cut at frame 45 is at 1.5 s, and the last scene ends at 3.0 s."""
    clip = cut_clip(tmp_path / "cuts", cut_frames=[45], total_frames=90, fps=30)
    output = run_processor(VIDEO_SCENE_DETECTION, clip, tmp_path)
    scenes = output.result["scenes"]
    assert [(0.0, 1.5), (1.5, 3.0)] == [(s["start_time"], s["end_time"]) for s in scenes]
    assert [45] == [c["frame"] for c in output.result["cuts"]]


def test_the_annotation_file_holds_one_record_per_scene(tmp_path: Path) -> None:
    """``scene_detection.json`` comes first, and ``annotation_count`` counts its records."""
    clip = cut_clip(tmp_path / "cuts", cut_frames=CUTS, total_frames=120)
    output = run_processor(VIDEO_SCENE_DETECTION, clip, tmp_path, min_scene_length=0.4)
    first = output.files[0]
    document = json.loads(first.path.read_text())
    assert ("scene_detection.json", "annotations") == (first.filename, first.role)
    assert (5, 5, 120, "JSON") == (
        output.result["annotation_count"],
        len(document["annotations"]),
        output.result["frames_processed"],
        output.result["format"],
    )
    assert {"duration_seconds": 4.8, "fps": 25.0, "width": 320, "height": 240}.items() <= output.result[
        "video"
    ].items()


def test_a_higher_threshold_finds_fewer_cuts(tmp_path: Path) -> None:
    """Raising ``threshold`` above the cuts' own scores leaves one long scene."""
    clip = cut_clip(tmp_path / "cuts", cut_frames=CUTS, total_frames=120)
    output = run_processor(VIDEO_SCENE_DETECTION, clip, tmp_path, threshold=200)
    assert 1 == output.result["annotation_count"]
