"""Offline reverse geocoding (the ``reverse_geocoder`` package ships GeoNames' cities of 1,000+)
and great-circle distances.

The geocoder loads its KD-tree once per process (about a second) and prints while it does; that
output is swallowed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from mediaforge.tagging.lazy import Lazy

__all__ = ["GEO_INSTALL_HINT", "Place", "distance_km", "geocoder_available", "reverse_geocode"]

GEO_INSTALL_HINT = "pip install 'mediaforge[photo]' (reverse_geocoder)"
_EARTH_KM = 6371.0088


@dataclass(frozen=True)
class Place:
    """The nearest populated place: city, region (admin1) and ISO country code."""

    city: str
    region: str
    country: str

    def as_dict(self) -> dict[str, str]:
        return {"city": self.city, "region": self.region, "country": self.country}


def _load() -> Any:
    module = importlib.import_module("reverse_geocoder")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return module.RGeocoder(mode=1, verbose=False)


_GEOCODER: Lazy[Any] = Lazy(_load)


def geocoder_available() -> bool:
    return importlib.util.find_spec("reverse_geocoder") is not None


def reverse_geocode(lat: float, lon: float) -> Place | None:
    """The place nearest to (lat, lon); None when the geocoder is not installed."""
    if not geocoder_available():
        return None
    with _GEOCODER.lock:
        found = _GEOCODER.get().query([(lat, lon)])
    if not found:
        return None
    row = found[0]
    return Place(str(row.get("name", "")), str(row.get("admin1", "")), str(row.get("cc", "")))


def distance_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Haversine distance in km (scalars or numpy arrays; NaN where a position is unknown)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
