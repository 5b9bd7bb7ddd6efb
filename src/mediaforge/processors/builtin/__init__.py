"""The processors that ship with mediaforge, registered explicitly."""

from __future__ import annotations

from mediaforge.processors.base import Processor
from mediaforge.processors.builtin.debug import DEBUG_PROCESSORS
from mediaforge.processors.builtin.image_info import IMAGE_INFO
from mediaforge.processors.builtin.image_optimize import IMAGE_OPTIMIZE
from mediaforge.processors.builtin.image_pipeline import IMAGE_PIPELINE
from mediaforge.processors.builtin.image_tag import IMAGE_TAG
from mediaforge.processors.builtin.photo_actions import PHOTO_ACTIONS
from mediaforge.processors.builtin.photo_import import PHOTO_ANALYZE, PHOTO_IMPORT
from mediaforge.processors.builtin.video_audio_processing import VIDEO_AUDIO_PROCESSING
from mediaforge.processors.builtin.video_face_analysis import VIDEO_FACE_ANALYSIS
from mediaforge.processors.builtin.video_person_tracking import VIDEO_PERSON_TRACKING
from mediaforge.processors.builtin.video_scene_detection import VIDEO_SCENE_DETECTION

__all__ = ["builtin_processors"]


def builtin_processors() -> list[Processor]:
    """Every built-in processor."""
    return [
        *DEBUG_PROCESSORS,
        IMAGE_INFO,
        IMAGE_OPTIMIZE,
        IMAGE_PIPELINE,
        IMAGE_TAG,
        PHOTO_IMPORT,
        PHOTO_ANALYZE,
        *PHOTO_ACTIONS,
        VIDEO_SCENE_DETECTION,
        VIDEO_PERSON_TRACKING,
        VIDEO_FACE_ANALYSIS,
        VIDEO_AUDIO_PROCESSING,
    ]
