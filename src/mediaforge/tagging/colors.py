"""Dominant colours: k-means in numpy on a downscaled image, each centre named in CIELAB.

Deterministic for a given image: the centres start at evenly spaced luminance quantiles, so the
same picture always yields the same palette.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["NAMED_COLORS", "Color", "color_name", "dominant_colors"]

_THUMBNAIL = 96
_ITERATIONS = 12
_MIN_FRACTION = 0.03

NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "dark gray": (64, 64, 64),
    "gray": (128, 128, 128),
    "silver": (192, 192, 192),
    "white": (255, 255, 255),
    "red": (220, 20, 30),
    "dark red": (128, 0, 0),
    "pink": (255, 160, 190),
    "magenta": (230, 0, 180),
    "orange": (255, 140, 0),
    "brown": (130, 80, 40),
    "beige": (225, 205, 165),
    "yellow": (255, 220, 0),
    "olive": (128, 128, 0),
    "green": (40, 160, 40),
    "dark green": (0, 90, 30),
    "teal": (0, 128, 128),
    "cyan": (0, 200, 230),
    "light blue": (150, 195, 240),
    "blue": (20, 60, 220),
    "dark blue": (30, 45, 90),
    "navy": (0, 0, 110),
    "purple": (120, 40, 160),
    "lavender": (190, 160, 230),
}
"""A small palette of everyday names; each centre takes the nearest one by CIE76 ΔE."""

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

_SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.2126729, 0.0193339], [0.3575761, 0.7151522, 0.1191920], [0.1804375, 0.0721750, 0.9503041]]
)


@dataclass(frozen=True)
class Color:
    """One dominant colour: its sRGB centre, hex, everyday name and share of the pixels."""

    rgb: tuple[int, int, int]
    hex: str
    name: str
    fraction: float


def dominant_colors(image: Image.Image, *, k: int = 5) -> list[Color]:
    """Up to ``k`` colours covering the visible pixels, largest share first.

    Transparent pixels are ignored; centres that would cover under 3% of the image are dropped
    and centres sharing a name are merged.
    """
    pixels = _visible_pixels(image)
    if len(pixels) == 0:
        return []
    centres, counts = _kmeans(pixels, k)
    total = float(counts.sum())
    by_name: dict[str, tuple[FloatArray, float]] = {}
    for centre, count in zip(centres, counts, strict=True):
        name = color_name(centre)
        weight = float(count)
        if name in by_name:
            previous, prev_weight = by_name[name]
            merged = (previous * prev_weight + centre * weight) / (prev_weight + weight)
            by_name[name] = (merged, prev_weight + weight)
        else:
            by_name[name] = (centre, weight)
    colors = []
    for name, (centre, weight) in by_name.items():
        fraction = weight / total
        if fraction < _MIN_FRACTION:
            continue
        r, g, b = (round(float(v)) for v in np.clip(centre, 0, 255))
        colors.append(Color((r, g, b), f"#{r:02x}{g:02x}{b:02x}", name, round(fraction, 4)))
    return sorted(colors, key=lambda c: -c.fraction)


def color_name(rgb: FloatArray | tuple[float, float, float]) -> str:
    """The nearest everyday name of an sRGB colour (0-255 per channel)."""
    lab = _to_lab(np.asarray(rgb, dtype=np.float64).reshape(1, 3))
    distances = np.linalg.norm(_PALETTE_LAB - lab, axis=1)
    return _PALETTE_NAMES[int(np.argmin(distances))]


def _visible_pixels(image: Image.Image) -> FloatArray:
    thumb = image.convert("RGBA")
    thumb.thumbnail((_THUMBNAIL, _THUMBNAIL), Image.Resampling.BILINEAR)
    rgba = np.asarray(thumb, dtype=np.float64).reshape(-1, 4)
    return rgba[rgba[:, 3] >= 128, :3]


def _kmeans(pixels: FloatArray, k: int) -> tuple[FloatArray, np.ndarray[Any, np.dtype[np.int64]]]:
    unique = np.unique(pixels, axis=0)
    k = max(1, min(k, len(unique)))
    lab = _to_lab(pixels)
    order = np.argsort(lab[:, 0], kind="stable")
    centres = lab[order[((np.arange(k) + 0.5) * len(lab) / k).astype(int)]]
    assignment = np.zeros(len(lab), dtype=np.int64)
    for _ in range(_ITERATIONS):
        distances = ((lab[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        assignment = distances.argmin(axis=1)
        updated = centres.copy()
        for i in range(k):
            members = lab[assignment == i]
            if len(members):
                updated[i] = members.mean(axis=0)
        if np.allclose(updated, centres):
            break
        centres = updated
    counts = np.bincount(assignment, minlength=k)
    rgb_centres = np.array(
        [pixels[assignment == i].mean(axis=0) if counts[i] else np.zeros(3) for i in range(k)]
    )
    keep = counts > 0
    return rgb_centres[keep], counts[keep]


def _to_lab(rgb: FloatArray) -> FloatArray:
    """sRGB (0-255) to CIELAB under D65."""
    c = rgb / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


_PALETTE_NAMES = list(NAMED_COLORS)
_PALETTE_LAB = _to_lab(np.array(list(NAMED_COLORS.values()), dtype=np.float64))
