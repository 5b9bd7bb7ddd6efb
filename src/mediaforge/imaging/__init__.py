"""The image engine: pure functions from an input file and :class:`OptimizeParams` to an output file.

Face-neutral: the native ``image.optimize`` processor wraps :func:`optimize`, and each API face
maps its own settings onto :class:`OptimizeParams`. The engine needs the ``image`` extra (pyvips
with pyvips-binary, imagequant, pyoxipng); the params, formats and errors import without it, so
a registry can describe the processor on a machine that cannot run it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mediaforge.imaging.errors import ImagingError
from mediaforge.imaging.formats import INPUT_FORMATS, OUTPUT_FORMATS, Format
from mediaforge.imaging.options import MAX_SIDE, OptimizeParams

if TYPE_CHECKING:
    from mediaforge.imaging.pipeline import Checkpoint, Optimized, optimize
    from mediaforge.imaging.similarity import luma, ssim
    from mediaforge.imaging.upscale import SuperResolution

__all__ = [
    "INPUT_FORMATS",
    "MAX_SIDE",
    "OUTPUT_FORMATS",
    "Checkpoint",
    "Format",
    "ImagingError",
    "OptimizeParams",
    "Optimized",
    "SuperResolution",
    "luma",
    "optimize",
    "ssim",
]

_NEEDS_PYVIPS = {
    "Checkpoint": "pipeline",
    "Optimized": "pipeline",
    "optimize": "pipeline",
    "luma": "similarity",
    "ssim": "similarity",
    "SuperResolution": "upscale",
}


def __getattr__(name: str) -> Any:
    if name in _NEEDS_PYVIPS:
        return getattr(importlib.import_module(f"mediaforge.imaging.{_NEEDS_PYVIPS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
