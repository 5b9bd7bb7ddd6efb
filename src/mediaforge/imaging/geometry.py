"""Resize with pad or crop, and applying a per-image step to every frame of an animation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mediaforge.imaging._vips import VipsImage, pyvips

__all__ = ["ResizePlan", "frame_count", "per_frame", "plan_resize", "resize"]


@dataclass(frozen=True, slots=True)
class ResizePlan:
    """The output canvas (``width`` x ``height``) and the scaled picture inside it.

    The picture is the canvas itself unless padding, where it is the largest proportional fit,
    centred. ``crop`` covers the canvas and cuts away the least interesting part.
    """

    width: int
    height: int
    inner_width: int
    inner_height: int
    crop: bool = False

    @property
    def pads(self) -> bool:
        """Whether letterbox bands surround the picture."""
        return (self.inner_width, self.inner_height) != (self.width, self.height)


def plan_resize(
    src_width: int, src_height: int, width: int | None, height: int | None, fit: Literal["pad", "crop"]
) -> ResizePlan | None:
    """What a request for ``width`` and/or ``height`` means for a ``src_width`` x ``src_height`` picture."""
    if width is None and height is None:
        return None
    if height is None:
        assert width is not None
        h = max(1, round(src_height * width / src_width))
        return ResizePlan(width, h, width, h)
    if width is None:
        w = max(1, round(src_width * height / src_height))
        return ResizePlan(w, height, w, height)
    same_aspect = (
        round(src_height * width / src_width) == height or round(src_width * height / src_height) == width
    )
    if same_aspect:
        return ResizePlan(width, height, width, height)
    if fit == "crop":
        return ResizePlan(width, height, width, height, crop=True)
    scale = min(width / src_width, height / src_height)
    inner_w = min(width, max(1, round(src_width * scale)))
    inner_h = min(height, max(1, round(src_height * scale)))
    return ResizePlan(width, height, inner_w, inner_h)


def resize(image: VipsImage, plan: ResizePlan, *, transparent: bool, scaled: bool = False) -> VipsImage:
    """Resize one frame to ``plan`` (Lanczos 3), padding with transparency or white.

    ``scaled`` says the picture already has its inner size (it was shrunk while decoding).
    """
    if not scaled:
        if plan.crop:
            image = image.thumbnail_image(plan.width, height=plan.height, size="both", crop="attention")
        else:
            image = image.thumbnail_image(plan.inner_width, height=plan.inner_height, size="force")
    if not plan.pads:
        return image
    colour_bands = image.bands - 1 if image.hasalpha() else image.bands
    if transparent and not image.hasalpha():
        image = image.bandjoin(255)
    background = [255] * colour_bands + ([0] if image.hasalpha() else [])
    left = (plan.width - image.width) // 2
    top = (plan.height - image.height) // 2
    return image.embed(left, top, plan.width, plan.height, extend="background", background=background)


def frame_count(image: VipsImage) -> int:
    """Frames in a decoded image: 1, or the height over libvips' ``page-height``."""
    if not image.get_typeof("page-height"):
        return 1
    page_height = int(image.get("page-height"))
    return max(1, int(image.height) // page_height) if 0 < page_height < image.height else 1


def per_frame(image: VipsImage, step: Callable[[VipsImage], VipsImage]) -> VipsImage:
    """Apply ``step`` to each frame of an animation strip and rebuild the strip (one frame: just ``step``)."""
    count = frame_count(image)
    if count == 1:
        return step(image)
    page_height = int(image.get("page-height"))
    frames = [step(image.crop(0, i * page_height, image.width, page_height)) for i in range(count)]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", int(frames[0].height))
    for name, gtype in (("delay", pyvips.GValue.array_int_type), ("loop", pyvips.GValue.gint_type)):
        if image.get_typeof(name):
            strip.set_type(gtype, name, image.get(name))
    return strip.copy_memory()
