"""The ``photos`` repository: upsert one image's features, load a user's photos as arrays."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Insert, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mediaforge.clock import new_id, utcnow
from mediaforge.photos.features import PhotoFeatures
from mediaforge.photos.hashes import to_signed, to_unsigned
from mediaforge.photos.models import Photo
from mediaforge.photos.photoset import PhotoSet

__all__ = ["PhotoIndex"]

_LOADED = (
    Photo.image_id,
    Photo.sha256,
    Photo.phash,
    Photo.dhash,
    Photo.taken_at,
    Photo.lat,
    Photo.lon,
    Photo.place,
    Photo.width,
    Photo.height,
    Photo.sharpness,
    Photo.exposure,
    Photo.faces,
    Photo.quality,
    Photo.vector,
    Photo.embedding,
)


_KEY = ("owner_id", "user_id", "image_id")
_REPLACED = (
    "job_id",
    "sha256",
    "size",
    "width",
    "height",
    "phash",
    "dhash",
    "taken_at",
    "camera",
    "lat",
    "lon",
    "place",
    "sharpness",
    "exposure",
    "faces",
    "quality",
    "vector",
    "embedding",
    "embedding_model",
    "meta",
    "updated_at",
)


@cache
def _upsert(dialect: str) -> Insert:
    """The upsert, built once per dialect: each call only binds values (every imported image runs
    it, and building it with the values inlined cost more than executing it)."""
    table: Table = Photo.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    names = ("id", "created_at", *_KEY, *_REPLACED)
    statement = insert(table).values({n: bindparam(n, type_=table.c[n].type) for n in names})
    return statement.on_conflict_do_update(
        index_elements=list(_KEY), set_={n: statement.excluded[n] for n in _REPLACED}
    )


class PhotoIndex:
    """All SQL on ``photos``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert(
        self,
        owner_id: str,
        user_id: str,
        image_id: str,
        features: PhotoFeatures,
        *,
        job_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Insert the image's row, or replace what an earlier import found (one statement)."""
        now = utcnow()
        values: dict[str, Any] = {
            "job_id": job_id,
            "sha256": features.sha256,
            "size": features.size,
            "width": features.width,
            "height": features.height,
            "phash": to_signed(features.phash),
            "dhash": to_signed(features.dhash),
            "taken_at": features.taken_at,
            "camera": features.camera,
            "lat": features.lat,
            "lon": features.lon,
            "place": features.place,
            "sharpness": features.sharpness,
            "exposure": features.exposure,
            "faces": features.faces,
            "quality": features.quality,
            "vector": np.asarray(features.vector, dtype="<f2").tobytes(),
            "embedding": None
            if features.embedding is None
            else np.asarray(features.embedding, dtype="<f2").tobytes(),
            "embedding_model": features.embedding_model,
            "meta": meta or {},
            "updated_at": now,
        }
        key = {"owner_id": owner_id, "user_id": user_id, "image_id": image_id}
        connection = self.session.connection()  # Core on the connection: no ORM bulk-insert layer
        connection.execute(
            _upsert(connection.dialect.name), {"id": new_id(), "created_at": now, **key, **values}
        )

    def count(self, owner_id: str, user_id: str) -> int:
        query = select(func.count()).where(Photo.owner_id == owner_id, Photo.user_id == user_id)
        return int(self.session.scalar(query) or 0)

    def load(self, owner_id: str, user_id: str) -> PhotoSet:
        """The user's photos, ordered by image id."""
        query = (
            select(*_LOADED)
            .where(Photo.owner_id == owner_id, Photo.user_id == user_id)
            .order_by(Photo.image_id)
        )
        rows = [
            {
                **row._asdict(),
                "phash": to_unsigned(row.phash),
                "dhash": to_unsigned(row.dhash),
                "vector": np.frombuffer(row.vector, dtype="<f2"),
                "embedding": None if row.embedding is None else np.frombuffer(row.embedding, dtype="<f2"),
            }
            for row in self.session.execute(query)
        ]
        return PhotoSet.from_rows(rows)
