"""A user's photos as numpy arrays (one row per photo): what every action computes on.

A ``PhotoSet`` is loaded from the ``photos`` table (``index.load``) or from the ``.npz`` snapshot
that a heavy action's job takes as its input, so the job never reads the database.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mediaforge.photos.embedding import VECTOR_DIM

__all__ = ["PhotoSet"]

Arr = np.ndarray[Any, Any]


@dataclass
class PhotoSet:
    """Parallel arrays; ``taken``, ``lat`` and ``lon`` are NaN where unknown, ``faces`` -1."""

    image_ids: Arr  # str
    sha256: Arr  # str
    phash: Arr  # uint64
    dhash: Arr  # uint64
    taken: Arr  # float64, seconds since the epoch (UTC)
    lat: Arr  # float64
    lon: Arr  # float64
    city: Arr  # str ("" when unknown)
    region: Arr  # str
    country: Arr  # str
    width: Arr  # int32
    height: Arr  # int32
    sharpness: Arr  # float32
    exposure: Arr  # float32
    faces: Arr  # int32
    quality: Arr  # float32
    vectors: Arr  # float32 (n, VECTOR_DIM), L2-normalised
    embeddings: Arr  # float32 (n, d) MobileNetV2 features; (n, 0) when none; zero rows where missing

    def __len__(self) -> int:
        return len(self.image_ids)

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> PhotoSet:
        """From dicts shaped like ``photos`` rows (hashes unsigned; vectors as float32 arrays)."""
        n = len(rows)
        places = [r.get("place") or {} for r in rows]
        have = [r["embedding"] for r in rows if r.get("embedding") is not None]
        dim = len(have[0]) if have else 0
        embeddings = np.zeros((n, dim), dtype=np.float32)
        if dim:
            for i, r in enumerate(rows):
                if r.get("embedding") is not None and len(r["embedding"]) == dim:
                    embeddings[i] = r["embedding"]
        return cls(
            image_ids=np.array([r["image_id"] for r in rows], dtype=str),
            sha256=np.array([r["sha256"] for r in rows], dtype=str),
            phash=np.array([r["phash"] for r in rows], dtype=np.uint64),
            dhash=np.array([r["dhash"] for r in rows], dtype=np.uint64),
            taken=np.array([_epoch(r.get("taken_at")) for r in rows], dtype=np.float64),
            lat=np.array([_nan(r.get("lat")) for r in rows], dtype=np.float64),
            lon=np.array([_nan(r.get("lon")) for r in rows], dtype=np.float64),
            city=np.array([p.get("city", "") for p in places], dtype=str),
            region=np.array([p.get("region", "") for p in places], dtype=str),
            country=np.array([p.get("country", "") for p in places], dtype=str),
            width=np.array([r["width"] for r in rows], dtype=np.int32),
            height=np.array([r["height"] for r in rows], dtype=np.int32),
            sharpness=np.array([r["sharpness"] for r in rows], dtype=np.float32),
            exposure=np.array([r["exposure"] for r in rows], dtype=np.float32),
            faces=np.array([-1 if r.get("faces") is None else r["faces"] for r in rows], dtype=np.int32),
            quality=np.array([r["quality"] for r in rows], dtype=np.float32),
            vectors=np.array([r["vector"] for r in rows], dtype=np.float32).reshape(n, VECTOR_DIM),
            embeddings=embeddings,
        )

    def subset(self, index: Arr) -> PhotoSet:
        """The rows at ``index`` (an integer array or a boolean mask)."""
        return PhotoSet(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def positions(self, image_ids: list[str]) -> tuple[Arr, list[str]]:
        """Row numbers of ``image_ids`` (in that order), and the ids that are not in the set."""
        where = {image_id: i for i, image_id in enumerate(self.image_ids.tolist())}
        missing = [i for i in image_ids if i not in where]
        return np.array([where[i] for i in image_ids if i in where], dtype=np.int64), missing

    def save(self, path: Path) -> None:
        """Write the ``.npz`` snapshot (no pickles: strings are fixed-width unicode arrays)."""
        with path.open("wb") as fh:
            np.savez(fh, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> PhotoSet:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{f.name: data[f.name] for f in fields(cls)})

    def taken_at(self, i: int) -> datetime | None:
        value = float(self.taken[i])
        return None if np.isnan(value) else datetime.fromtimestamp(value, UTC)


def _epoch(value: datetime | None) -> float:
    return value.timestamp() if value is not None else float("nan")


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)
