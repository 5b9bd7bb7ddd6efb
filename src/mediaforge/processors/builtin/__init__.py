"""The processors that ship with mediaforge, registered explicitly."""

from __future__ import annotations

from mediaforge.processors.base import Processor
from mediaforge.processors.builtin.debug import DEBUG_PROCESSORS
from mediaforge.processors.builtin.image_info import IMAGE_INFO
from mediaforge.processors.builtin.image_optimize import IMAGE_OPTIMIZE
from mediaforge.processors.builtin.image_pipeline import IMAGE_PIPELINE
from mediaforge.processors.builtin.image_tag import IMAGE_TAG

__all__ = ["builtin_processors"]


def builtin_processors() -> list[Processor]:
    """Every built-in processor."""
    return [*DEBUG_PROCESSORS, IMAGE_INFO, IMAGE_OPTIMIZE, IMAGE_PIPELINE, IMAGE_TAG]
