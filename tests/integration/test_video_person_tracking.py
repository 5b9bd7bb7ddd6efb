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


def _inside_fraction(
    box: tuple[float, float, float, float], frame: tuple[float, float, float, float]
) -> float:
    inter_w = max(0.0, min(box[2], frame[2]) - max(box[0], frame[0]))
    inter_h = max(0.0, min(box[3], frame[3]) - max(box[1], frame[1]))
    return inter_w * inter_h / ((box[2] - box[0]) * (box[3] - box[1]))


def test_person_boxes_lie_on_the_true_figures(tracked: Tracked) -> None:
    """At least 80 % of every person box lies on the pasted photo of that person."""
    _, document = tracked
    worst = min(
        max(_inside_fraction((x, y, x + w, y + h), _truth_box(i, a["frame_number"])) for i in range(2))
        for a in document["annotations"]
        for x, y, w, h in [a["bbox"]]
    )
    assert worst >= 0.8, worst


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
