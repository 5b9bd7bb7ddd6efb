"""``image.pipeline``: Upscale → Resize → Compress, then Tag when asked — one image, one job.

The Tinify face's unit of work. It runs ``image.optimize`` and, with ``tag``, ``image.tag`` on the
same input; when tagging is not installed the image is still delivered and the result says why
there are no tags (they are never invented).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, cast

from pydantic import Field

from mediaforge.imaging.options import OptimizeParams
from mediaforge.processors.base import Context, InputFile, Output, Processor, RetryPolicy
from mediaforge.processors.builtin.image_optimize import IMAGE_OPTIMIZE, INPUT_ERRORS
from mediaforge.processors.builtin.image_tag import IMAGE_TAG, ImageTagParams

__all__ = ["IMAGE_PIPELINE", "PipelineParams"]


class PipelineParams(OptimizeParams):
    tag: bool = Field(False, description="Also write alt text, keywords and an SEO filename (image.tag).")


@dataclass
class _Share:
    """The context as one stage sees it: its 0-100 progress maps onto ``[start, start + span]``."""

    whole: Context
    start: float
    span: float

    def __getattr__(self, name: str) -> Any:  # job_id, attempt, tmp_dir, check_cancelled, log
        return getattr(self.whole, name)

    def progress(self, percent: float, message: str | None = None) -> None:
        self.whole.progress(self.start + self.span * percent / 100, message)


def _pipeline(ctx: Context, inputs: list[InputFile], params: PipelineParams) -> Output:
    optimize_part = cast(Context, _Share(ctx, 0, 70 if params.tag else 100))
    optimize_params = OptimizeParams.model_validate(params.model_dump(exclude={"tag"}))
    optimized = IMAGE_OPTIMIZE.run(optimize_part, inputs, optimize_params)
    result: dict[str, Any] = {**optimized.result, "tags": None}
    result["executed"] = {**result["executed"], "tag": False}
    if params.tag:
        available = IMAGE_TAG.availability()
        if not available.available:
            result["tagging"] = {
                "status": "unavailable",
                "reason": available.reason,
                "install_hint": available.hint,
            }
        else:
            extension = str(result["output_format"])
            tag_part = cast(Context, _Share(ctx, 70, 30))
            tagged = IMAGE_TAG.run(tag_part, inputs, ImageTagParams(filename_extension=extension)).result
            result["tags"] = {
                "alt_text": tagged["alt_text"],
                "keywords": tagged["keywords"],
                "seo_filename": PurePath(tagged["filename"]).stem,
                "source": tagged["source"],
                "signals": tagged.get("signals"),
            }
            result["executed"]["tag"] = True
    return Output(result=result, files=optimized.files)


IMAGE_PIPELINE = Processor(
    "image.pipeline",
    _pipeline,
    PipelineParams,
    description="Upscale, resize, compress and optionally tag one image (the Tinify pipeline).",
    requires=IMAGE_OPTIMIZE.requires,
    install_hint=IMAGE_OPTIMIZE.install_hint,
    min_inputs=1,
    max_inputs=1,
    timeout=600,
    retry=RetryPolicy(non_retryable=INPUT_ERRORS | {"invalid_image"}),
)
