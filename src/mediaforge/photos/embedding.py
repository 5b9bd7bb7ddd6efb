"""Image embeddings: cheap colour-and-structure features (always), MobileNetV2 features (ml extra).

The colour-and-structure vector (``VECTOR_DIM`` floats, L2-normalised) joins three parts, each
normalised first: a 4x4x4 RGB joint histogram (square-rooted, so cosine is the Hellinger
similarity), a 4x4 grid of mean YCbCr colours (the layout), and gradient-orientation histograms
(8 unsigned orientations, whole image plus 2x2 cells). It is not semantic: it says "same scene,
same light", which is what duplicates and bursts share. MobileNetV2's pooled 1280-d features
(``mediaforge.tagging.mobilenet``) say "same kind of thing" and are used when computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

__all__ = ["MOBILENET", "VECTOR_DIM", "colour_structure", "mobilenet_available", "mobilenet_embedding"]

MOBILENET = "mobilenet_v2-imagenet"
_SIDE = 64
_BINS = 4
_GRID = 4
_ORIENTATIONS = 8
_WEIGHTS = (1.0, 0.6, 0.8)
VECTOR_DIM = _BINS**3 + _GRID * _GRID * 3 + _ORIENTATIONS * 5

F32 = np.ndarray[Any, np.dtype[np.float32]]


def _unit(x: np.ndarray[Any, Any]) -> F32:
    norm = float(np.linalg.norm(x))
    return (x / norm if norm > 0 else x).astype(np.float32)


def colour_structure(image: Image.Image) -> F32:
    """The ``VECTOR_DIM`` features of an RGB image (any size; it is reduced to 64x64 first)."""
    small = image.convert("RGB").resize((_SIDE, _SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    rgb = np.asarray(small, dtype=np.uint8)
    q = (rgb >> 6).astype(np.int64)  # 4 levels per channel
    hist = np.bincount((q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).ravel(), minlength=_BINS**3)
    colour = _unit(np.sqrt(hist / hist.sum()))
    ycc = np.asarray(small.convert("YCbCr"), dtype=np.float32) / 255.0
    cell = _SIDE // _GRID
    grid = ycc.reshape(_GRID, cell, _GRID, cell, 3).mean(axis=(1, 3)).ravel()
    layout = _unit(grid - grid.mean())
    edges = _unit(_orientations(ycc[..., 0]))
    parts = [w * p for w, p in zip(_WEIGHTS, (colour, layout, edges), strict=True)]
    return _unit(np.concatenate(parts))


def _orientations(grey: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    gy, gx = np.gradient(grey.astype(np.float32))
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((angle / np.pi * _ORIENTATIONS).astype(np.int64), _ORIENTATIONS - 1)
    half = _SIDE // 2
    hists = [np.bincount(bins.ravel(), magnitude.ravel(), minlength=_ORIENTATIONS)]
    for r in (slice(0, half), slice(half, _SIDE)):
        for c in (slice(0, half), slice(half, _SIDE)):
            hists.append(np.bincount(bins[r, c].ravel(), magnitude[r, c].ravel(), minlength=_ORIENTATIONS))
    total = np.concatenate(hists)
    return np.sqrt(total / max(float(total.sum()), 1e-9))


def mobilenet_available() -> bool:
    from mediaforge.tagging.mobilenet import weights_path

    return weights_path() is not None


def mobilenet_embedding(image: Image.Image) -> F32:
    """MobileNetV2's L2-normalised 1280-d pooled features (the weights package must be installed)."""
    from mediaforge.tagging.mobilenet import MODEL, preprocess

    model = MODEL.get()
    pooled = model.features(preprocess(image)).mean(axis=(0, 1))
    return _unit(pooled)
