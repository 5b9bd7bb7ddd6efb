"""``image.info``: format, dimensions, and an EXIF summary of one image."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mediaforge.errors import MediaforgeError
from mediaforge.media.probe import probe_image, verify_image
from mediaforge.processors.base import Context, InputFile, Output, PermanentFailure, Processor

__all__ = ["IMAGE_INFO"]

MAX_PIXELS = 100_000_000


class ImageInfoParams(BaseModel):
    """``verify`` decodes every pixel, so truncated files fail here rather than later."""

    model_config = ConfigDict(extra="forbid")
    verify: bool = True


def _image_info(ctx: Context, inputs: list[InputFile], params: ImageInfoParams) -> Output:
    source = inputs[0]
    try:
        info = probe_image(source.path, max_pixels=MAX_PIXELS)
        if info is None:
            raise PermanentFailure(f"not an image: {source.content_type}", type="unsupported_media")
        if params.verify:
            verify_image(source.path, max_pixels=MAX_PIXELS)
    except MediaforgeError as exc:
        raise PermanentFailure(exc.message, type=exc.code) from exc
    return Output(
        result={
            "format": info.format,
            "width": info.width,
            "height": info.height,
            "mode": info.mode,
            "frames": info.frames,
            "has_alpha": info.has_alpha,
            "exif": info.exif,
            "content_type": source.content_type,
            "size": source.size,
        }
    )


IMAGE_INFO = Processor(
    "image.info",
    _image_info,
    ImageInfoParams,
    description="Image format, dimensions and EXIF summary.",
    requires=("PIL",),
    install_hint="pip install pillow",
    min_inputs=1,
    max_inputs=1,
    timeout=60,
)
