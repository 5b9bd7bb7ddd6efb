"""``image.optimize``: upscale, resize and compress one image (the engine in ``mediaforge.imaging``)."""

from __future__ import annotations

from mediaforge.imaging.options import OptimizeParams
from mediaforge.processors.base import (
    Context,
    InputFile,
    Output,
    OutputFile,
    PermanentFailure,
    Processor,
    RetryPolicy,
)

__all__ = ["IMAGE_OPTIMIZE"]

INPUT_ERRORS = frozenset({"corrupt_image", "image_too_large", "unsupported_media"})
"""Failures caused by the input itself: never retried (and, per face policy, not refunded)."""


def _image_optimize(ctx: Context, inputs: list[InputFile], params: OptimizeParams) -> Output:
    from mediaforge.imaging import (
        ImagingError,
        SuperResolution,
        optimize,
    )  # needs the image extra; imported on use

    source = inputs[0]

    def checkpoint(percent: float, message: str) -> None:
        ctx.check_cancelled()
        ctx.progress(percent, message)

    try:
        done = optimize(
            source.path,
            params,
            work_dir=ctx.tmp_dir,
            max_pixels=ctx.settings.max_image_pixels,
            sr=SuperResolution(
                ctx.settings.super_resolution_max_pixels, ctx.settings.super_resolution_device
            ),
            filename=source.filename,
            checkpoint=checkpoint,
        )
    except ImagingError as exc:
        raise PermanentFailure(str(exc), type=exc.type) from exc
    return Output(result=done.result, files=[OutputFile(done.path, done.filename)])


IMAGE_OPTIMIZE = Processor(
    "image.optimize",
    _image_optimize,
    OptimizeParams,
    description="Upscale, resize (pad or crop) and compress an image to jpg/png/webp/avif/gif/ico/svg.",
    requires=("pyvips", "imagequant", "oxipng", "PIL"),
    install_hint="pip install 'mediaforge[image]'",
    min_inputs=1,
    max_inputs=1,
    timeout=300,
    retry=RetryPolicy(non_retryable=INPUT_ERRORS),
)
