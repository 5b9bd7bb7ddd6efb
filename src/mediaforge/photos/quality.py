"""How good a photo looks, without a model: sharpness, exposure, and (with mediapipe) faces.

* sharpness: the variance of the Laplacian of the grey image at 256 pixels on the long side,
  mapped to 0..1 by ``log10(1 + var) / 3`` (a variance of 1000 or more scores 1);
* exposure: 1 at a mean luminance of 0.5, falling by 1.6 per unit of distance from it and by
  twice the share of clipped pixels (below 2% or above 98% luminance);
* quality = 0.6 sharpness + 0.4 exposure, plus 0.05 when at least one face was found.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["count_faces", "exposure", "faces_available", "quality", "sharpness"]

_FACE_SIDE = 640


def sharpness(grey: np.ndarray[Any, Any]) -> float:
    """0..1 from the variance of the 4-neighbour Laplacian of a grey image on 0..255."""
    x = np.asarray(grey, dtype=np.float32)
    if min(x.shape) < 3:
        return 0.0
    lap = x[1:-1, :-2] + x[1:-1, 2:] + x[:-2, 1:-1] + x[2:, 1:-1] - 4 * x[1:-1, 1:-1]
    return float(min(1.0, np.log10(1.0 + float(lap.var())) / 3.0))


def exposure(grey: np.ndarray[Any, Any]) -> float:
    """0..1: well exposed (mid-grey mean, little clipping) scores high."""
    x = np.asarray(grey, dtype=np.float32) / 255.0
    clipped = float(np.mean((x < 0.02) | (x > 0.98)))
    return float(max(0.0, 1.0 - abs(float(x.mean()) - 0.5) * 1.6 - 2.0 * clipped))


def quality(sharp: float, exposed: float, faces: int | None) -> float:
    return round(0.6 * sharp + 0.4 * exposed + (0.05 if faces else 0.0), 4)


def faces_available() -> bool:
    return importlib.util.find_spec("mediapipe") is not None


def count_faces(image: Image.Image) -> int:
    """Faces mediapipe's full-range detector finds (mediapipe must be installed)."""
    from mediaforge.tagging.people import count_faces as detect

    return detect(image, max_side=_FACE_SIDE)
