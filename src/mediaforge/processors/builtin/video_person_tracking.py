"""``video.person_tracking``: people with COCO pose keypoints and stable track ids (mediapipe BlazePose)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mediaforge.processors.base import Context, InputFile, Output, OutputFile, Processor
from mediaforge.processors.builtin.video_common import (
    ML_VIDEO_INSTALL_HINT,
    VIDEO_RETRY,
    Ticker,
    probe_input,
    video_facts,
    write_json,
)

__all__ = ["VIDEO_PERSON_TRACKING", "PersonTrackingParams"]


class PersonTrackingParams(BaseModel):
    """How sure a person must be, how often frames are analysed, and how tracks are kept."""

    model_config = ConfigDict(extra="forbid")
    confidence_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Minimum person detection score (0.0-1.0) to start or keep a track."
    )
    sample_fps: float = Field(
        5.0, gt=0.0, le=60.0, description="Frames analysed per second of video (every frame if higher)."
    )
    max_persons: int = Field(10, ge=1, le=50, description="Most people tracked in one frame.")
    detect_every: float = Field(
        1.0,
        ge=0.0,
        le=30.0,
        description="Seconds between full searches for new people; known people are followed "
        "on every analysed frame.",
    )
    track_buffer: float = Field(
        2.0, ge=0.0, le=60.0, description="Seconds a person may go unseen and keep their id."
    )
    analysis_size: int = Field(
        960, ge=256, le=3840, description="Frames are analysed at most this many pixels on their long side."
    )


def _person_tracking(ctx: Context, inputs: list[InputFile], params: PersonTrackingParams) -> Output:
    from mediaforge.video.coco import coco_document
    from mediaforge.video.people import COCO_KEYPOINTS, COCO_SKELETON, coco_annotation, track_people

    info = probe_input(inputs[0])
    video_id = PurePath(inputs[0].filename).stem or "video"
    expected = info.frame_count or max(1, round(info.duration_seconds * info.fps))
    people, frames, started = track_people(
        inputs[0].path,
        fps=info.fps,
        video_width=info.width,
        sample_fps=params.sample_fps,
        min_score=params.confidence_threshold,
        max_persons=params.max_persons,
        detect_every=params.detect_every,
        max_side=params.analysis_size,
        max_age=params.track_buffer,
        on_frame=Ticker(ctx, expected, end=99, message="tracking people"),
    )
    annotations = [coco_annotation(person, index, video_id) for index, person in enumerate(people, 1)]
    video = video_facts(info)
    document = coco_document(
        description="mediaforge video.person_tracking (BlazePose keypoints, tracked)",
        video_id=video_id,
        video=video,
        frames=frames,
        annotations=annotations,
        categories=[
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": COCO_KEYPOINTS,
                "skeleton": COCO_SKELETON,
            }
        ],
    )
    path = write_json(ctx.tmp_dir / "person_tracking.json", document)
    ctx.progress(100, "done")
    persons = _persons(annotations)
    return Output(
        result={
            "format": "COCO",
            "annotation_count": len(annotations),
            "frames_processed": len(frames),
            "video": video,
            "track_count": started,
            "person_count": len(persons),
            "max_persons_in_frame": max(_per_frame(annotations).values(), default=0),
            "persons": persons,
        },
        files=[OutputFile(path, "person_tracking.json", role="annotations")],
    )


def _per_frame(annotations: list[dict[str, Any]]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for annotation in annotations:
        counts[annotation["frame_number"]] += 1
    return counts


def _persons(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per track: where it starts and ends and how often it was seen."""
    tracks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for annotation in annotations:
        tracks[annotation["track_id"]].append(annotation)
    return [
        {
            "track_id": track_id,
            "person_id": seen[0]["person_id"],
            "first_frame": seen[0]["frame_number"],
            "last_frame": seen[-1]["frame_number"],
            "first_time": seen[0]["timestamp"],
            "last_time": seen[-1]["timestamp"],
            "detections": len(seen),
            "mean_score": round(sum(a["score"] for a in seen) / len(seen), 4),
        }
        for track_id, seen in sorted(tracks.items())
    ]


VIDEO_PERSON_TRACKING = Processor(
    "video.person_tracking",
    _person_tracking,
    PersonTrackingParams,
    description="People with 17 COCO pose keypoints and stable ids across frames "
    "(mediapipe BlazePose detector and landmarks, ByteTrack-style tracker).",
    requires=("av", "numpy", "cv2", "mediapipe", "matplotlib"),
    install_hint=ML_VIDEO_INSTALL_HINT,
    min_inputs=1,
    max_inputs=1,
    timeout=3600,
    retry=VIDEO_RETRY,
)
