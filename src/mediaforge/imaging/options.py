"""What a caller asks of :func:`mediaforge.imaging.optimize`, with face-neutral names."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_SIDE", "Effort", "Fit", "OptimizeParams", "OutputFormat"]

MAX_SIDE = 8192

OutputFormat = Literal["original", "jpg", "png", "webp", "avif", "gif", "svg", "ico"]
Fit = Literal["pad", "crop"]
Effort = Literal["fast", "thorough"]


class OptimizeParams(BaseModel):
    """Upscale, then resize, then compress (always), in that order."""

    model_config = ConfigDict(extra="forbid")

    format: OutputFormat = Field(
        "original", description="Output format; `original` keeps the input's (jpg when it cannot be written)."
    )
    quality: int = Field(80, ge=1, le=100, description="Encoder quality; 100 means lossless for png.")
    max_bytes: int | None = Field(
        None, gt=0, description="Target size: the best quality at or under it (`target_met` says if reached)."
    )
    min_ssim: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Perceptual mode: the smallest file whose SSIM to the source is at least this.",
    )
    width: int | None = Field(
        None, ge=1, le=MAX_SIDE, description="Output width; alone, keeps the aspect ratio."
    )
    height: int | None = Field(
        None, ge=1, le=MAX_SIDE, description="Output height; alone, keeps the aspect ratio."
    )
    fit: Fit = Field(
        "pad", description="Both sides given, other aspect: `pad` (letterbox) or `crop` (attention-based)."
    )
    upscale: float | None = Field(
        None, ge=0.1, le=10, description="Scale factor; super-resolution where installed, Lanczos otherwise."
    )
    gif_frame_limit: int | None = Field(
        None, ge=1, le=1000, description="Animated input: keep the first N frames."
    )
    strip_metadata: bool = Field(
        True, description="Drop EXIF/XMP/IPTC/ICC (orientation and colour are applied)."
    )
    effort: Effort = Field(
        "fast",
        description=(
            "`fast`: the usual encoder settings (libjpeg-turbo with optimised Huffman tables, WebP "
            "method 4, AVIF effort up to 4); `thorough`: more CPU for smaller files (mozjpeg trellis "
            "quantisation and progressive scans, WebP method 6 with smart deblocking, AVIF effort up "
            "to 6 within the budget)."
        ),
    )
    avif_cpu_budget_s: float = Field(
        10.0, gt=0, le=600, description="CPU seconds AVIF encoding may use before falling back to WebP."
    )
