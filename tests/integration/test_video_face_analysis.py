"""``video.face_analysis`` counts and follows the faces of generated clips."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from tests.videos import face_clip, run_processor, speech_clip

from mediaforge.processors.builtin.video_face_analysis import VIDEO_FACE_ANALYSIS

pytest.importorskip("av")


@pytest.mark.parametrize("faces", [1, 2])
def test_every_analysed_frame_has_the_right_number_of_faces(tmp_path: Path, faces: int) -> None:
    """One or two moving, growing faces: that many per analysed frame, one track each."""
    output = run_processor(VIDEO_FACE_ANALYSIS, face_clip(tmp_path / "faces", faces=faces), tmp_path)
    document = json.loads(output.files[0].path.read_text())
    per_frame = Counter(a["frame_number"] for a in document["annotations"])
    analysed = [image["frame_number"] for image in document["images"]]
    assert [faces] * len(analysed) == [per_frame[n] for n in analysed]
    assert faces == output.result["face_track_count"]


def test_landmarks_are_six_keypoints_inside_the_box(tmp_path: Path) -> None:
    """Eyes, nose, mouth and ears: six (x, y, 2) triples, the eyes and nose inside the face box."""
    output = run_processor(VIDEO_FACE_ANALYSIS, face_clip(tmp_path / "faces", total_frames=10), tmp_path)
    document = json.loads(output.files[0].path.read_text())
    annotation = document["annotations"][0]
    x, y, w, h = annotation["bbox"]
    points = list(zip(annotation["keypoints"][0::3], annotation["keypoints"][1::3], strict=True))
    assert (6, 18, 6) == (annotation["num_keypoints"], len(annotation["keypoints"]), len(points))
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in points[:3])
    assert "face" == document["categories"][0]["name"]


def test_without_landmarks_no_keypoints_are_written(tmp_path: Path) -> None:
    """``enable_landmarks=false`` leaves boxes only."""
    clip = face_clip(tmp_path / "faces", total_frames=10)
    output = run_processor(VIDEO_FACE_ANALYSIS, clip, tmp_path, enable_landmarks=False)
    document = json.loads(output.files[0].path.read_text())
    assert [] == [a for a in document["annotations"] if "keypoints" in a]
    assert len(document["annotations"]) == output.result["annotation_count"] > 0


def test_a_clip_without_faces_has_no_annotations(tmp_path: Path) -> None:
    """A moving colour gradient has no faces."""
    clip = speech_clip(tmp_path / "plain", speech=[(0.2, "Hi")], seconds=2, size=(320, 240))
    output = run_processor(VIDEO_FACE_ANALYSIS, clip, tmp_path)
    assert (0, 10) == (output.result["annotation_count"], output.result["frames_processed"])
