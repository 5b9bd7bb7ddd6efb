"""What callers send: the import request, and each action's params (one pydantic model per action)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AlternativesParams",
    "AnalyzeParams",
    "DuplicatesParams",
    "ImportImage",
    "ImportParams",
    "PhotobookParams",
    "TextParams",
]

EmbeddingKind = Literal["colour", "mobilenet"]


class ImportImage(BaseModel):
    """One image to import: its key at the caller and where to download it (a SAS URI)."""

    image_id: str = Field(..., min_length=1, max_length=255)
    download_uri: str = Field(..., min_length=1, max_length=8192)
    metadata: dict[str, str] = Field(default_factory=dict)
    uploaded_at: datetime | None = None
    derivative_created_at: datetime | None = None


class ImportParams(BaseModel):
    """A user's images to import (``photo.import``); one ``photo.analyze`` child per image."""

    user_id: str = Field(..., min_length=1, max_length=255)
    images: list[ImportImage] = Field(default_factory=list, max_length=10_000)
    source_type: str = "minio"
    image_type: str = "Original"
    data_source: str | None = None


class AnalyzeParams(BaseModel):
    """One image to download and analyse (``photo.analyze``)."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(..., min_length=1, max_length=255)
    image: ImportImage
    source_type: str = "minio"
    image_type: str = "Original"
    data_source: str | None = None
    embedding: EmbeddingKind = Field("colour", description="Which image embedding to compute.")
    faces: bool = Field(True, description="Count faces when mediapipe is installed.")


class _ActionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DuplicatesParams(_ActionParams):
    """DETECT_DUPLICATES: which photos, and how alike two must be to count as duplicates."""

    image_ids: list[str] | None = Field(None, max_length=100_000, description="All photos when omitted.")
    include_similar: bool = Field(
        True, description="Also group burst shots (same moment, slightly different frames)."
    )
    sensitivity: float = Field(
        0.5, ge=0.0, le=1.0, description="0 = only near-identical, 1 = looser; 0.5 is the tested default."
    )


class AlternativesParams(_ActionParams):
    """SUGGEST_ALTERNATIVE_IMAGES: the nearest neighbours of one photo."""

    image_id: str = Field(..., min_length=1, max_length=255)
    limit: int = Field(10, ge=1, le=100)
    min_similarity: float = Field(0.0, ge=-1.0, le=1.0)
    include_bursts: bool = Field(True, description="Keep burst shots of the same moment (marked burst).")


class PhotobookParams(_ActionParams):
    """SUGGEST_PHOTOBOOK: chapters, the best photos of each, and page layouts."""

    image_ids: list[str] | None = Field(None, max_length=100_000, description="All photos when omitted.")
    min_pages: int = Field(24, ge=1, le=500)
    max_pages: int = Field(100, ge=1, le=500)
    max_photos_per_page: int = Field(4, ge=1, le=4)
    min_gap_hours: float = Field(
        6.0, gt=0, le=24 * 365, description="A time gap at least this long starts a chapter."
    )
    place_change_km: float = Field(
        50.0, gt=0, description="Moving this far (with a gap of an hour or more) starts a chapter."
    )
    with_text: bool = Field(True, description="Add a templated title and caption to each chapter.")

    @model_validator(mode="after")
    def _bounds(self) -> PhotobookParams:
        if self.min_pages > self.max_pages:
            raise ValueError("min_pages must not exceed max_pages")
        return self


class TextParams(_ActionParams):
    """SUGGEST_TEXT: a book title and a title and caption per chapter of the chosen photos."""

    image_ids: list[str] | None = Field(None, max_length=100_000, description="All photos when omitted.")
    language: str = Field("en", min_length=2, max_length=16, description="Language of the text (LLM only).")
    style: str = Field("warm", min_length=1, max_length=64, description="Tone hint for the LLM.")
    min_gap_hours: float = Field(6.0, gt=0, le=24 * 365)
    place_change_km: float = Field(50.0, gt=0)
