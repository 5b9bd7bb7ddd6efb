"""One encoder per output format: ``encode(image, level, keep_metadata, effort) -> bytes``.

``level`` is the 1-100 quality. ``effort`` is the caller's ``fast`` (the settings sharp and most
tools use) or ``thorough`` (more CPU for smaller files), or ``squeeze``: the slowest, smallest
settings, used when a size target is out of reach at level 1. AVIF lives in
:mod:`mediaforge.imaging.avif` because it runs under a CPU-time budget.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from typing import Literal

import imagequant  # type: ignore[import-untyped]  # no py.typed marker
import oxipng
from PIL import Image

from mediaforge.imaging._vips import VipsImage, pyvips

__all__ = ["ENCODERS", "ICO_SIZES", "Encoder", "EncoderEffort", "flatten", "keep_flags"]

EncoderEffort = Literal["fast", "thorough", "squeeze"]
Encoder = Callable[[VipsImage, int, bool, EncoderEffort], bytes]

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
_PROGRESSIVE_PIXELS = 400 * 300  # below this a baseline JPEG is as small and decodes faster
_QUANT_SLACK = 20  # imagequant may go this far below the asked quality before we keep full colour


def keep_flags(keep_metadata: bool) -> int:
    """libvips' ``keep`` flags: everything, or nothing (EXIF, XMP, IPTC and ICC all dropped)."""
    return int(pyvips.enums.ForeignKeep.ALL if keep_metadata else pyvips.enums.ForeignKeep.NONE)


def flatten(image: VipsImage) -> VipsImage:
    """The image composed onto white, without alpha."""
    if not image.hasalpha():
        return image
    return image.flatten(background=[255] * (image.bands - 1)).cast("uchar")


def jpeg(image: VipsImage, level: int, keep_metadata: bool, effort: EncoderEffort) -> bytes:
    """Baseline JPEG with optimised Huffman tables when ``fast``, as libjpeg-turbo and sharp write it.

    Otherwise mozjpeg's trellis quantisation (15% smaller at q80 and about the same SSIM, for four
    times the CPU), progressive when large, and its scan search too when squeezing.
    """
    image = flatten(image)
    thorough = effort != "fast"
    progressive = thorough and image.width * image.height >= _PROGRESSIVE_PIXELS
    data: bytes = image.jpegsave_buffer(
        Q=level,
        optimize_coding=True,
        trellis_quant=thorough,
        interlace=progressive,
        optimize_scans=effort == "squeeze" and progressive,
        keep=keep_flags(keep_metadata),
    )
    return data


def png(image: VipsImage, level: int, keep_metadata: bool, effort: EncoderEffort) -> bytes:
    """Palette-quantised with imagequant when it keeps quality (level < 100), then oxipng; else lossless."""
    oxi_level = {"fast": 2, "thorough": 3, "squeeze": 4}[effort]
    strip = oxipng.StripChunks.none() if keep_metadata else oxipng.StripChunks.safe()
    if keep_metadata:
        return oxipng.optimize_from_memory(
            image.pngsave_buffer(keep=keep_flags(True), compression=1), level=oxi_level, strip=strip
        )
    if level < 100:
        rgba = image.colourspace("srgb") if image.bands < 3 else image
        if not rgba.hasalpha():
            rgba = rgba.bandjoin(255)
        try:
            indices, palette = imagequant.quantize_raw_rgba_bytes(
                bytes(rgba.write_to_memory()),
                rgba.width,
                rgba.height,
                max_colors=256,
                min_quality=max(0, level - _QUANT_SLACK),
                max_quality=level,
            )
        except RuntimeError:
            pass  # "quality too low": 256 colours cannot keep it, so stay lossless
        else:
            entries = [palette[i : i + 4] for i in range(0, len(palette), 4)]
            raw = oxipng.RawImage(
                indices, rgba.width, rgba.height, color_type=oxipng.ColorType.indexed(entries)
            )
            return raw.create_optimized_png(level=oxi_level, strip=strip)
    raw = oxipng.RawImage(
        bytes(image.write_to_memory()), image.width, image.height, color_type=_colour_type(image)
    )
    return raw.create_optimized_png(level=oxi_level, strip=strip)


def webp(image: VipsImage, level: int, keep_metadata: bool, effort: EncoderEffort) -> bytes:
    """Lossy WebP at ``level``; animated when the image is a frame strip.

    ``fast`` is libwebp's method 4; otherwise method 6 with the deblocking filter tuned per image.
    """
    thorough = effort != "fast"
    data: bytes = image.webpsave_buffer(
        Q=level, effort=6 if thorough else 4, smart_deblock=thorough, keep=keep_flags(keep_metadata)
    )
    return data


def gif(image: VipsImage, level: int, keep_metadata: bool, effort: EncoderEffort) -> bytes:
    """Palette GIF, animated when the image is a frame strip; fewer colours, lossier frames at low levels."""
    bitdepth = 8 if level >= 50 else max(1, math.ceil(level * 8 / 50))
    data: bytes = image.gifsave_buffer(
        bitdepth=bitdepth,
        effort={"fast": 7, "thorough": 8, "squeeze": 10}[effort],
        interframe_maxerror=(100 - level) * 0.16,
        keep=keep_flags(keep_metadata),
    )
    return data


def ico(image: VipsImage, level: int, keep_metadata: bool, effort: EncoderEffort) -> bytes:
    """A Windows icon: the picture centred on a transparent square, at each standard size up to 256."""
    side = min(256, max(image.width, image.height))
    image = image.thumbnail_image(side, height=side) if max(image.width, image.height) > side else image
    if image.bands < 3:
        image = image.colourspace("srgb")
    if not image.hasalpha():
        image = image.bandjoin(255)
    square = image.gravity("centre", side, side, extend="background", background=[0, 0, 0, 0])
    picture = Image.frombytes("RGBA", (side, side), square.write_to_memory())
    sizes = [(s, s) for s in ICO_SIZES if s <= side] or [(side, side)]
    buffer = io.BytesIO()
    picture.save(buffer, format="ICO", sizes=sizes)
    return buffer.getvalue()


def svg(image: VipsImage, level: int, keep_metadata: bool, effort: EncoderEffort) -> bytes:
    """An SVG document that embeds the PNG encoding of the image (no vector tracing)."""
    data = base64.b64encode(png(image, level, False, effort)).decode("ascii")
    w, h = image.width, image.height
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
        f'<image width="{w}" height="{h}" xlink:href="data:image/png;base64,{data}"/></svg>'
    ).encode("ascii")


def _colour_type(image: VipsImage) -> oxipng.ColorType:
    return {
        1: oxipng.ColorType.grayscale(),
        2: oxipng.ColorType.grayscale_alpha(),
        3: oxipng.ColorType.rgb(),
        4: oxipng.ColorType.rgba(),
    }[image.bands]


ENCODERS: dict[str, Encoder] = {"jpg": jpeg, "png": png, "webp": webp, "gif": gif, "ico": ico, "svg": svg}
