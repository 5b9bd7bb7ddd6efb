"""``video.person_tracking`` on real photos of people moving across a clip."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from tests.videos import people_boxes, people_clip, run_processor

from mediaforge.processors.builtin.video_person_tracking import VIDEO_PERSON_TRACKING
from mediaforge.video.tracking import iou

pytest.importorskip("av")

FRAMES = 50
VIEWER_FIELDS = {
    "id", "image_id", "category_id", "keypoints", "num_keypoints", "bbox", "area", "iscrowd", "score",
    "timestamp", "frame_number", "person_id", "person_label", "label_confidence", "labeling_method",
    "track_id",
}  # fmt: skip
Tracked = tuple[dict[str, Any], dict[str, Any]]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Tracked:
    tmp = tmp_path_factory.mktemp("people")
    clip = people_clip(tmp / "people", total_frames=FRAMES)
    output = run_processor(VIDEO_PERSON_TRACKING, clip, tmp)
    return output.result, json.loads(output.files[0].path.read_text())


def _truth_box(figure_index: int, frame: int) -> tuple[float, float, float, float]:
    x, y, w, h = people_boxes(frame, FRAMES)[figure_index]
    return (x, y, x + w, y + h)


def test_each_figure_keeps_one_id_through_the_clip(tracked: Tracked) -> None:
    """The astronaut and the cameraman are two tracks, each seen in every analysed frame."""
    result, document = tracked
    frames_by_track: dict[int, set[int]] = defaultdict(set)
    figures_by_track: dict[int, set[int]] = defaultdict(set)
    for annotation in document["annotations"]:
        x, y, w, h = annotation["bbox"]
        overlaps = [iou((x, y, x + w, y + h), _truth_box(i, annotation["frame_number"])) for i in range(2)]
        figures_by_track[annotation["track_id"]].add(max(range(2), key=lambda i: overlaps[i]))
        frames_by_track[annotation["track_id"]].add(annotation["frame_number"])
    analysed = {image["frame_number"] for image in document["images"]}
    assert (2, 2) == (result["track_count"], len(frames_by_track))
    assert [{0}, {1}] == [figures_by_track[t] for t in sorted(figures_by_track)]
    assert [analysed, analysed] == [frames_by_track[t] for t in sorted(frames_by_track)]


def test_every_person_box_is_centred_on_a_true_figure(tracked: Tracked) -> None:
    """Each box's centre lies on the pasted photo of its person (boxes may reach past a photo's
    edge where the photo cuts the body off: the model completes the body)."""
    _, document = tracked
    off = []
    for annotation in document["annotations"]:
        x, y, w, h = annotation["bbox"]
        cx, cy = x + w / 2, y + h / 2
        truths = [_truth_box(i, annotation["frame_number"]) for i in range(2)]
        if not any(t[0] <= cx <= t[2] and t[1] <= cy <= t[3] for t in truths):
            off.append(annotation["id"])
    assert [] == off


def test_annotations_carry_the_fields_the_viewer_reads(tracked: Tracked) -> None:
    """COCO keypoints with 51 numbers, string image ids that name an image, and the person fields."""
    result, document = tracked
    annotation = document["annotations"][0]
    image_ids = {image["id"] for image in document["images"]}
    assert VIEWER_FIELDS <= annotation.keys()
    assert all(len(a["keypoints"]) == 51 and a["image_id"] in image_ids for a in document["annotations"])
    assert isinstance(annotation["image_id"], str)
    assert (17, "person") == (len(document["categories"][0]["keypoints"]), document["categories"][0]["name"])
    assert (len(document["annotations"]), "COCO", 10) == (
        result["annotation_count"],
        result["format"],
        result["frames_processed"],
    )
