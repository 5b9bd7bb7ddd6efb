"""The formats the engine reads and writes, and what each can carry."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "Format", "output_for_original"]


@dataclass(frozen=True, slots=True)
class Format:
    """An output format: its file extension, MIME type, and whether it keeps alpha and animation."""

    name: str
    extension: str
    content_type: str
    alpha: bool
    animation: bool


OUTPUT_FORMATS = {
    f.name: f
    for f in (
        Format("jpg", ".jpg", "image/jpeg", alpha=False, animation=False),
        Format("png", ".png", "image/png", alpha=True, animation=False),
        Format("webp", ".webp", "image/webp", alpha=True, animation=True),
        Format("avif", ".avif", "image/avif", alpha=True, animation=False),
        Format("gif", ".gif", "image/gif", alpha=True, animation=True),
        Format("ico", ".ico", "image/x-icon", alpha=True, animation=False),
        Format("svg", ".svg", "image/svg+xml", alpha=True, animation=False),
    )
}

INPUT_FORMATS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "image/x-icon": "ico",
    "image/svg+xml": "svg",
}
"""MIME type (sniffed from the bytes) -> input format name. Anything else is refused."""

_NATIVE = frozenset({"jpg", "png", "webp", "avif", "gif", "ico"})


def output_for_original(input_format: str, *, has_alpha: bool) -> str:
    """The format ``original`` means: the input's own when we write it natively.

    An SVG becomes PNG (a raster of vector art); other formats we only read become JPEG, or PNG
    when they carry transparency that JPEG would lose.
    """
    if input_format in _NATIVE:
        return input_format
    if input_format == "svg" or has_alpha:
        return "png"
    return "jpg"
