"""The whole engine in one call: inspect, decode, upscale, resize, compress, report."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from mediaforge.imaging._vips import VipsError, VipsImage, pyvips
from mediaforge.imaging.avif import AvifOverBudget, AvifUnavailable, CpuBudget, encode_avif
from mediaforge.imaging.encoders import ENCODERS
from mediaforge.imaging.errors import ImagingError
from mediaforge.imaging.formats import OUTPUT_FORMATS, Format, output_for_original
from mediaforge.imaging.geometry import frame_count, per_frame, plan_resize, resize
from mediaforge.imaging.options import OptimizeParams
from mediaforge.imaging.search import Choice, choose
from mediaforge.imaging.similarity import luma, ssim
from mediaforge.imaging.source import Shrink, SourceInfo, decode, decode_failure, inspect
from mediaforge.imaging.upscale import DEFAULT_SUPER_RESOLUTION, SuperResolution, Upscaled, upscale

__all__ = ["Checkpoint", "Optimized", "optimize"]

Checkpoint = Callable[[float, str], None]
"""Called between stages with a percentage and a message; may raise to stop (cancellation)."""


@dataclass(frozen=True, slots=True)
class Optimized:
    """The output file, the download name it suggests, and the result report."""

    path: Path
    filename: str
    result: dict[str, Any]


def optimize(
    path: Path,
    params: OptimizeParams,
    *,
    work_dir: Path,
    max_pixels: int,
    sr: SuperResolution = DEFAULT_SUPER_RESOLUTION,
    filename: str | None = None,
    checkpoint: Checkpoint | None = None,
) -> Optimized:
    """Upscale, resize and compress the image at ``path`` as ``params`` ask; write the output in ``work_dir``.

    ``sr`` says where a super-resolution model runs when upscaling, and up to which input size.
    Raises :class:`ImagingError` for input that is damaged, too large or not a supported image.
    """
    step = checkpoint or _no_checkpoint
    info = inspect(path, max_pixels=max_pixels)
    fmt = OUTPUT_FORMATS[
        output_for_original(info.format, has_alpha=info.has_alpha)
        if params.format == "original"
        else params.format
    ]
    notes: list[str] = []
    frames = _frames_to_keep(info, params, fmt, notes)
    _check_pixels(info.width, info.height, frames, max_pixels)
    lazy = _encodes_once(params, fmt, frames)
    image, upscaled, resized = _transform(info, params, fmt, frames, max_pixels, sr, step, lazy=lazy)
    if upscaled is not None:
        notes.extend(upscaled.notes)
    step(60, "compressing")

    keep = not params.strip_metadata
    fallback = None
    try:
        choice = _compress(image, fmt, params, keep, work_dir)
    except (AvifOverBudget, AvifUnavailable) as exc:
        fallback = f"avif -> webp: {exc}"
        fmt = OUTPUT_FORMATS["webp"]
        choice = _compress(image, fmt, params, keep, work_dir)
    except VipsError as exc:
        if not lazy:
            raise
        raise decode_failure(info.format, exc) from exc  # a streamed input failed while being read
    if params.min_ssim is not None and fmt.name == "ico":
        notes.append("min_ssim does not apply to ico (its images are lossless)")
    if fmt.name == "svg":
        notes.append("svg output embeds the PNG raster in an SVG document; it is not traced to vectors")

    stem = Path(filename or path.name).stem or "image"
    out_name = f"{stem}{fmt.extension}"
    out_path = work_dir / f"optimized{fmt.extension}"
    out_path.write_bytes(choice.data)
    out_frames = frame_count(image) if fmt.animation else 1
    side = min(256, max(image.width, image.height // out_frames))
    out_width, out_height = (side, side) if fmt.name == "ico" else (image.width, image.height // out_frames)
    step(100, "done")
    result: dict[str, Any] = {
        "input_format": info.format,
        "input_width": info.width,
        "input_height": info.height,
        "input_size": info.size,
        "input_frames": info.frames,
        "output_format": fmt.name,
        "output_width": out_width,
        "output_height": out_height,
        "output_size": len(choice.data),
        "output_frames": out_frames,
        "compression_ratio": round(info.size / len(choice.data), 4),
        "executed": {"upscale": upscaled is not None, "resize": resized, "compress": True},
        "upscaler": upscaled.upscaler if upscaled else None,
        "upscale_factor": round(upscaled.factor, 4) if upscaled else None,
        "quality_used": choice.level,
        "ssim": round(choice.ssim, 5) if choice.ssim is not None else None,
        "target_met": choice.target_met,
        "fallback": fallback,
        "metadata_stripped": params.strip_metadata,
        "content_type": fmt.content_type,
        "filename": out_name,
        "notes": notes,
    }
    return Optimized(out_path, out_name, result)


def _transform(
    info: SourceInfo,
    params: OptimizeParams,
    fmt: Format,
    frames: int,
    max_pixels: int,
    sr: SuperResolution,
    step: Checkpoint,
    *,
    lazy: bool,
) -> tuple[VipsImage, Upscaled | None, bool]:
    """Decode, upscale, resize: the picture to encode, in memory (or streamed when ``lazy``)."""
    plan = plan_resize(info.width, info.height, params.width, params.height, params.fit)
    if plan is not None:
        _check_pixels(plan.width, plan.height, frames, max_pixels)
    if plan is not None and params.upscale is None and frames == 1:
        shrink = Shrink(plan.inner_width, plan.inner_height, crop=plan.crop)
        image = resize(decode(info, shrink=shrink, lazy=lazy), plan, transparent=fmt.alpha, scaled=True)
        step(40, "resized")
        return image if lazy else image.copy_memory(), None, True
    image = decode(info, frames=frames, lazy=lazy)
    step(20, "decoded")
    upscaled = None
    if params.upscale is not None:
        upscaled = upscale(image, params.upscale, max_pixels=max_pixels, sr=sr)
        image = upscaled.image
        step(40, "upscaled")
    if plan is not None:
        count = frame_count(image)
        plan = plan_resize(image.width, image.height // count, params.width, params.height, params.fit)
        assert plan is not None
        image = per_frame(image, lambda frame: resize(frame, plan, transparent=fmt.alpha))
    return image if lazy else image.copy_memory(), upscaled, plan is not None


def _encodes_once(params: OptimizeParams, fmt: Format, frames: int) -> bool:
    """Whether the picture is read exactly once, by one encode, so it can stream from the decoder.

    Size and SSIM searches encode many times, AVIF samples before it encodes, upscaling and
    animation work on the whole picture: those decode into memory first.
    """
    single = params.max_bytes is None and params.min_ssim is None
    return single and params.upscale is None and frames == 1 and fmt.name != "avif"


def _compress(image: VipsImage, fmt: Format, params: OptimizeParams, keep: bool, work_dir: Path) -> Choice:
    if fmt.name == "avif":
        budget = CpuBudget(params.avif_cpu_budget_s)

        def encode(level: int, squeeze: bool) -> bytes:
            effort = "squeeze" if squeeze else params.effort
            return encode_avif(image, level, keep, budget, work_dir=work_dir, effort=effort)

    else:
        encoder = ENCODERS[fmt.name]

        def encode(level: int, squeeze: bool) -> bytes:
            return encoder(image, level, keep, "squeeze" if squeeze else params.effort)

    min_ssim = None if fmt.name == "ico" else params.min_ssim
    measure = None
    if min_ssim is not None:
        reference = luma(_first_frame(image))

        def measure(data: bytes) -> float:
            return ssim(reference, _first_frame(_decode_output(data, fmt)))

    return choose(
        encode, quality=params.quality, max_bytes=params.max_bytes, min_ssim=min_ssim, measure=measure
    )


def _frames_to_keep(info: SourceInfo, params: OptimizeParams, fmt: Format, notes: list[str]) -> int:
    if info.frames <= 1:
        return 1
    if not fmt.animation:
        notes.append(f"{fmt.name} output keeps the first of the {info.frames} frames")
        return 1
    keep = min(info.frames, params.gif_frame_limit or info.frames)
    if keep < info.frames:
        notes.append(f"kept the first {keep} of the {info.frames} frames")
    return keep


def _check_pixels(width: int, height: int, frames: int, max_pixels: int) -> None:
    if width * height * frames > max_pixels:
        what = f"{frames} frames of {width}x{height}" if frames > 1 else f"{width}x{height}"
        raise ImagingError(f"{what} is more than the {max_pixels:,} pixel limit", type="image_too_large")


def _first_frame(image: VipsImage) -> VipsImage:
    count = frame_count(image)
    return image if count == 1 else image.crop(0, 0, image.width, image.height // count)


def _decode_output(data: bytes, fmt: Format) -> VipsImage:
    if fmt.name != "ico":
        return pyvips.Image.new_from_buffer(data, "").copy_memory()
    with Image.open(io.BytesIO(data)) as icon:
        rgba = icon.convert("RGBA")
    return pyvips.Image.new_from_memory(rgba.tobytes(), rgba.width, rgba.height, 4, "uchar")


def _no_checkpoint(percent: float, message: str) -> None:
    """The default checkpoint: nothing to report, nothing to cancel."""
