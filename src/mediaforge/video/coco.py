"""COCO documents for video annotations: one image per analysed frame, ids as strings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mediaforge.video.frames import Frame

__all__ = ["coco_document", "frame_image_id"]


def frame_image_id(frame_number: int) -> str:
    """The COCO ``image_id`` of a video frame (a string, as the VideoAnnotator viewer expects)."""
    return f"frame_{frame_number:06d}"


def coco_document(
    *,
    description: str,
    video_id: str,
    video: dict[str, Any],
    frames: Sequence[Frame],
    annotations: list[dict[str, Any]],
    categories: list[dict[str, Any]],
) -> dict[str, Any]:
    """A COCO document whose images are the analysed frames of one video."""
    return {
        "info": {
            "description": description,
            "version": "1.0",
            "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "video_id": video_id,
            "video": video,
        },
        "licenses": [],
        "images": [
            {
                "id": frame_image_id(frame.number),
                "file_name": f"{video_id}_{frame_image_id(frame.number)}.jpg",
                "width": video["width"],
                "height": video["height"],
                "frame_number": frame.number,
                "timestamp": round(frame.time, 6),
                "video_id": video_id,
            }
            for frame in frames
        ],
        "annotations": annotations,
        "categories": categories,
    }
