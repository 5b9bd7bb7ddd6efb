"""Image facts from headers only, and a full decode check for processors.

Pillow keeps its own process-wide pixel ceiling (``Image.MAX_IMAGE_PIXELS``); each call here
enforces its ``max_pixels`` itself and only ever *raises* Pillow's ceiling to match, so an image
this module accepts is never refused (or warned about) by Pillow.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from PIL import ExifTags, Image, ImageSequence, UnidentifiedImageError

from mediaforge.errors import BadRequest
from mediaforge.media.sniff import SNIFF_BYTES, sniff

__all__ = ["ImageInfo", "probe_image", "verify_image"]

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_EXIF_KEYS = {
    ExifTags.Base.Make: "Make",
    ExifTags.Base.Model: "Model",
    ExifTags.Base.Orientation: "Orientation",
    ExifTags.Base.DateTime: "DateTime",
    ExifTags.Base.Software: "Software",
}
_EXIF_IFD_KEYS = {ExifTags.Base.DateTimeOriginal: "DateTimeOriginal"}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What an image's headers say about it."""

    mime: str
    format: str
    width: int
    height: int
    mode: str
    frames: int
    has_alpha: bool
    exif: dict[str, str | int] = field(default_factory=dict)
    """A small summary (Make, Model, DateTime(Original), Orientation, Software, GPS) when present."""
    duration_ms: int | None = None
    """An animation's total duration (the sum of its frame durations)."""
    dpi: int | None = None


def probe_image(path: Path, *, max_pixels: int) -> ImageInfo | None:
    """Read an image's headers (no pixel decoding); ``None`` if it is not a format Pillow reads.

    Raises ``BadRequest`` ``image_too_large`` past ``max_pixels`` and ``invalid_image`` when the
    header cannot be parsed (including an empty file).
    """
    with path.open("rb") as fp:
        mime, formats = _identify(fp, path)
        if not formats:
            return None
        with _opened(fp, path, formats, max_pixels) as img:
            frames = getattr(img, "n_frames", 1)
            dpi = img.info.get("dpi")
            return ImageInfo(
                mime=mime,
                format=img.format or formats[0],
                width=img.width,
                height=img.height,
                mode=img.mode,
                frames=frames,
                has_alpha="A" in img.getbands() or "transparency" in img.info,
                exif=_exif_summary(img),
                duration_ms=_duration_ms(img, frames) if frames > 1 else None,
                dpi=round(float(dpi[0])) if dpi else None,
            )


def _duration_ms(img: Image.Image, frames: int) -> int:
    total = 0
    for index in range(frames):
        img.seek(index)
        total += int(img.info.get("duration") or 0)
    img.seek(0)
    return total


def verify_image(path: Path, max_pixels: int) -> None:
    """Decode every frame of the image, raising ``BadRequest`` ``invalid_image`` if any is damaged."""
    with path.open("rb") as fp:
        mime, formats = _identify(fp, path)
        if not formats:
            raise BadRequest(f"{path.name} ({mime}) is not an image mediaforge decodes", code="invalid_image")
        with _opened(fp, path, formats, max_pixels) as img:
            for frame in ImageSequence.Iterator(img):
                frame.load()


def _identify(fp: IO[bytes], path: Path) -> tuple[str, list[str]]:
    head = fp.read(SNIFF_BYTES)
    if not head:
        raise BadRequest(f"{path.name} is empty", code="invalid_image")
    fp.seek(0)
    mime = sniff(head, path.name)
    return mime, _pillow_formats().get(mime, [])


@contextmanager
def _opened(fp: IO[bytes], path: Path, formats: list[str], max_pixels: int) -> Iterator[Image.Image]:
    _raise_pillow_ceiling(max_pixels)
    try:
        with Image.open(fp, formats=formats) as img:
            _check_pixels(img.width, img.height, max_pixels)
            yield img
    except _BOMB as exc:
        raise BadRequest(f"{path.name} exceeds {max_pixels} pixels", code="image_too_large") from exc
    except UnidentifiedImageError as exc:
        raise BadRequest(f"{path.name} is not a readable image", code="invalid_image") from exc
    except _DECODE_ERRORS as exc:
        raise BadRequest(f"{path.name} is damaged or truncated: {exc}", code="invalid_image") from exc


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise BadRequest(
            f"image is {width}x{height}, more than the {max_pixels} pixel limit",
            code="image_too_large",
            details={"width": width, "height": height, "max_pixels": max_pixels},
        )


def _raise_pillow_ceiling(max_pixels: int) -> None:
    # Only ever raised, never lowered or disabled, so other Pillow users keep their protection.
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _pillow_formats() -> dict[str, list[str]]:
    Image.init()
    by_mime: dict[str, list[str]] = {}
    for fmt in Image.OPEN:
        if fmt in Image.MIME:
            by_mime.setdefault(Image.MIME[fmt], []).append(fmt)
    return by_mime


def _exif_summary(img: Image.Image) -> dict[str, str | int]:
    if img.format == "PNG" and "exif" not in img.info:
        return {}  # PNG's eXIf chunk may follow the pixel data; reaching it would decode them.
    try:
        exif = img.getexif()
        found = {name: exif.get(tag) for tag, name in _EXIF_KEYS.items()}
        ifd = exif.get_ifd(ExifTags.IFD.Exif)
        found |= {name: ifd.get(tag) for tag, name in _EXIF_IFD_KEYS.items()}
        has_gps = bool(exif.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception:  # EXIF is untrusted, optional metadata; a bad block must not fail the probe.
        return {}
    summary: dict[str, str | int] = {"GPS": 1} if has_gps else {}
    for name, value in found.items():
        if isinstance(value, int):
            summary[name] = value
        elif isinstance(value, str | bytes):
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            text = "".join(ch for ch in text if ch.isprintable()).strip()
            if text:
                summary[name] = text[:128]
    return summary
