"""The EXIF facts the photo actions use: capture time, camera, GPS position (Pillow reads them).

``DateTimeOriginal`` is local time without a zone; with ``OffsetTimeOriginal`` it is converted to
UTC, otherwise it is taken as UTC as written (a consistent timeline is what chapters need).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

__all__ = ["ExifFacts", "read_exif"]

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_MAKE, _MODEL, _DATETIME = 271, 272, 306
_ORIGINAL, _DIGITIZED, _OFFSET_ORIGINAL = 36867, 36868, 36881


@dataclass(frozen=True)
class ExifFacts:
    taken_at: datetime | None = None
    camera: str | None = None
    lat: float | None = None
    lon: float | None = None


def read_exif(image: Image.Image) -> ExifFacts:
    """The facts of an opened image; anything missing or malformed is None."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
        gps = exif.get_ifd(_GPS_IFD)
    except Exception:  # a malformed EXIF block only loses the facts, never the image
        return ExifFacts()
    stamp = sub.get(_ORIGINAL) or sub.get(_DIGITIZED) or exif.get(_DATETIME)
    lat, lon = _gps(gps)
    return ExifFacts(
        taken_at=_time(stamp, sub.get(_OFFSET_ORIGINAL)),
        camera=_camera(exif.get(_MAKE), exif.get(_MODEL)),
        lat=lat,
        lon=lon,
    )


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    return text or None


def _time(stamp: Any, offset: Any) -> datetime | None:
    text = _text(stamp)
    if not text:
        return None
    try:
        naive = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    shift = timedelta(0)
    if (zone := _text(offset)) and len(zone) == 6 and zone[0] in "+-":
        try:
            hours, minutes = int(zone[1:3]), int(zone[4:6])
        except ValueError:
            hours = minutes = 0
        shift = timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
    return (naive - shift).replace(tzinfo=UTC)


def _camera(make: Any, model: Any) -> str | None:
    make_text, model_text = _text(make), _text(model)
    if make_text and model_text and model_text.lower().startswith(make_text.lower()):
        return model_text[:255]
    joined = " ".join(t for t in (make_text, model_text) if t)
    return joined[:255] or None


def _gps(gps: Any) -> tuple[float | None, float | None]:
    lat = _degrees(gps.get(2), gps.get(1), "S")
    lon = _degrees(gps.get(4), gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    if not math.isfinite(degrees):
        return None
    return -degrees if _text(ref) == negative else degrees
