"""``image.tag``: alt text, keywords and an SEO filename for one image, from real signals.

See ``mediaforge.tagging``. The processor is available when at least one ML signal (labels, OCR,
people) is installed; the result says which signals ran and which were unavailable, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

from PIL import Image, ImageOps
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mediaforge.config import Settings
from mediaforge.errors import MediaforgeError
from mediaforge.media.probe import probe_image
from mediaforge.processors.base import (
    Availability,
    Context,
    InputFile,
    Output,
    PermanentFailure,
    Processor,
)
from mediaforge.tagging import (
    ML_INSTALL_HINT,
    SIGNALS,
    TagOptions,
    VisionConfig,
    model_signals_available,
    tag_image,
)

__all__ = ["IMAGE_TAG", "ImageTagParams"]

MAX_PIXELS = 100_000_000
_WORKING_SIDE = 2048

SignalName = Literal["labels", "ocr", "people", "colors", "vision"]


class ImageTagParams(BaseModel):
    """What to run and how much to return; the ``vision_*`` fields configure the vision model."""

    model_config = ConfigDict(extra="forbid")
    signals: list[SignalName] | None = Field(None, description="Signals to run; all of them when omitted.")
    top_k: int = Field(5, ge=1, le=20, description="How many ImageNet labels to return.")
    min_label_score: float = Field(0.2, ge=0.0, le=1.0, description="Lowest label score kept as a keyword.")
    max_keywords: int = Field(10, ge=1, le=50)
    max_colors: int = Field(5, ge=1, le=10)
    embedding: bool = Field(False, description="Include the 1280-d L2-normalised MobileNetV2 embedding.")
    filename_extension: str | None = Field(
        None,
        pattern=r"^\.?[A-Za-z0-9]{1,10}$",
        description="Extension of the SEO filename; the input file's when omitted.",
    )
    vision_base_url: str | None = Field(
        None, description="OpenAI-compatible API base, e.g. https://api.openai.com/v1 (…/chat/completions)."
    )
    vision_model: str | None = Field(None, description="Model name; with the base URL, it turns vision on.")
    vision_api_key: SecretStr | None = None
    vision_timeout: float = Field(30.0, gt=0, le=120)


def _image_tag(ctx: Context, inputs: list[InputFile], params: ImageTagParams) -> Output:
    source = inputs[0]
    image = _open(source)
    options = TagOptions(
        signals=frozenset(params.signals) if params.signals is not None else None,
        top_k=params.top_k,
        min_label_score=params.min_label_score,
        max_keywords=params.max_keywords,
        max_colors=params.max_colors,
        extension=params.filename_extension or _extension(source),
        vision=_vision_config(params, ctx.settings),
    )
    steps = list(SIGNALS)

    def on_signal(name: str) -> None:
        ctx.check_cancelled()
        ctx.progress(100 * steps.index(name) / len(steps), name)

    result = tag_image(image, options, on_signal=on_signal)
    return Output(result=result.as_dict(embedding=params.embedding))


def _open(source: InputFile) -> Image.Image:
    """The first frame, EXIF orientation applied, at most ``_WORKING_SIDE`` pixels on its long side."""
    try:
        info = probe_image(source.path, max_pixels=MAX_PIXELS)
    except MediaforgeError as exc:
        raise PermanentFailure(exc.message, type=exc.code) from exc
    if info is None:
        raise PermanentFailure(f"not an image: {source.content_type}", type="unsupported_media")
    try:
        with Image.open(source.path) as opened:
            opened.draft("RGB", (_WORKING_SIDE, _WORKING_SIDE))
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise PermanentFailure(f"cannot decode image: {exc}", type="invalid_image") from exc
    if max(image.size) > _WORKING_SIDE:
        image.thumbnail((_WORKING_SIDE, _WORKING_SIDE), Image.Resampling.LANCZOS)
    return image


def _extension(source: InputFile) -> str:
    suffix = PurePath(source.filename).suffix.lstrip(".").lower()
    return "jpg" if suffix == "jpeg" else suffix


def _vision_config(params: ImageTagParams, settings: Settings) -> VisionConfig | None:
    """The vision model from the params, else from the server's settings (where its key belongs)."""
    base_url = params.vision_base_url or settings.tagging_vision_base_url
    model = params.vision_model or settings.tagging_vision_model
    if not (base_url and model):
        return None
    key = params.vision_api_key or settings.tagging_vision_api_key
    return VisionConfig(
        base_url=base_url,
        model=model,
        api_key=key.get_secret_value() if key else None,
        timeout=params.vision_timeout if params.vision_base_url else settings.tagging_vision_timeout_seconds,
        allow_hosts=settings.allow_hosts,
    )


@dataclass(frozen=True)
class _TagProcessor(Processor):
    """Available only when some ML signal is: colours alone are not tagging."""

    def availability(self) -> Availability:
        base = super().availability()
        if not base.available:
            return base
        models = model_signals_available()
        return Availability(models.available, models.reason, models.install_hint)


IMAGE_TAG = _TagProcessor(
    "image.tag",
    _image_tag,
    ImageTagParams,
    description="Alt text, keywords and an SEO filename from ImageNet labels, OCR, faces, colours "
    "and an optional vision model.",
    capabilities=frozenset({"cpu"}),
    requires=("PIL", "numpy"),
    install_hint=ML_INSTALL_HINT,
    min_inputs=1,
    max_inputs=1,
    timeout=300,
)
