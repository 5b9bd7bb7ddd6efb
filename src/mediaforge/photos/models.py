"""The ``photos`` table: one analysed image of one end user, keyed by (owner, user, image id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mediaforge.clock import new_id, utcnow
from mediaforge.db.base import Base
from mediaforge.db.types import JSONType, UTCDateTime

__all__ = ["Photo"]


class Photo(Base):
    """What ``photo.analyze`` found in one image; the actions read a user's rows as numpy arrays.

    ``owner_id`` is the API caller's account, ``user_id`` the caller's end user, ``image_id`` the
    caller's key for the image. Hashes are signed 64-bit (the bit pattern of the unsigned hash).
    """

    __tablename__ = "photos"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(String(255))
    image_id: Mapped[str] = mapped_column(String(255))
    job_id: Mapped[str | None] = mapped_column(String(36))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    phash: Mapped[int] = mapped_column(BigInteger)
    dhash: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    camera: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    place: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    sharpness: Mapped[float] = mapped_column(Float)
    exposure: Mapped[float] = mapped_column(Float)
    faces: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[float] = mapped_column(Float)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    """The colour-and-structure features (float16), always present."""
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The MobileNetV2 embedding (float16), when it was computed."""
    embedding_model: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_photos_owner_user_image", "owner_id", "user_id", "image_id", unique=True),)
