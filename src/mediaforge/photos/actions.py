"""The four actions as plain functions of a ``PhotoSet`` and their params (no database).

``run`` is what both paths call: the synchronous answer in the request, and the action's job
on its ``.npz`` snapshot.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mediaforge.config import Settings
from mediaforge.errors import NotFound
from mediaforge.photos.duplicates import Thresholds, find_duplicates
from mediaforge.photos.photobook import chapter_facts, chapters, suggest_photobook
from mediaforge.photos.photoset import PhotoSet
from mediaforge.photos.schemas import AlternativesParams, DuplicatesParams, PhotobookParams, TextParams
from mediaforge.photos.similar import alternatives
from mediaforge.photos.text import TextError, templated, write_text

__all__ = ["run", "select"]


class UnknownImages(NotFound):
    code = "images_not_found"


def select(photos: PhotoSet, params: BaseModel) -> PhotoSet:
    """The photos the action works on; ``NotFound`` naming any unknown image id."""
    if isinstance(params, AlternativesParams):
        _, missing = photos.positions([params.image_id])
        if missing:
            raise UnknownImages(f"image {params.image_id!r} has not been imported for this user")
        return photos
    image_ids = getattr(params, "image_ids", None)
    if image_ids is None:
        return photos
    rows, missing = photos.positions(list(dict.fromkeys(image_ids)))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise UnknownImages(f"{len(missing)} image(s) not imported for this user: {shown}")
    return photos.subset(rows)


def run(action: str, photos: PhotoSet, params: BaseModel, settings: Settings) -> dict[str, Any]:
    """The action's result; ``UpstreamFailed`` when the LLM provider fails (SUGGEST_TEXT)."""
    if isinstance(params, DuplicatesParams):
        return find_duplicates(
            photos, Thresholds.for_sensitivity(params.sensitivity), similar=params.include_similar
        )
    if isinstance(params, AlternativesParams):
        rows, _ = photos.positions([params.image_id])
        return alternatives(
            photos,
            int(rows[0]),
            limit=params.limit,
            min_similarity=params.min_similarity,
            include_bursts=params.include_bursts,
        )
    if isinstance(params, PhotobookParams):
        result = suggest_photobook(
            photos,
            min_pages=params.min_pages,
            max_pages=params.max_pages,
            max_photos_per_page=params.max_photos_per_page,
            min_gap_hours=params.min_gap_hours,
            place_change_km=params.place_change_km,
        )
        if params.with_text:
            text = templated([_facts_of(c) for c in result["chapters"]])
            result["book_title"] = text["book_title"]
            for chapter, written in zip(result["chapters"], text["chapters"], strict=True):
                chapter["title"], chapter["caption"] = written["title"], written["caption"]
        return result
    if isinstance(params, TextParams):
        return _text(photos, params, settings)
    raise ValueError(f"no action for {type(params).__name__}")


def _facts_of(chapter: dict[str, Any]) -> dict[str, Any]:
    return {k: chapter[k] for k in ("photos", "start", "end", "place", "places", "people")}


def _text(photos: PhotoSet, params: TextParams, settings: Settings) -> dict[str, Any]:
    from mediaforge.photos.service import UpstreamFailed

    found = chapters(photos, min_gap_hours=params.min_gap_hours, place_change_km=params.place_change_km)
    facts = [chapter_facts(photos, rows) for rows in found]
    try:
        text = write_text(facts, settings, language=params.language, style=params.style)
    except TextError as exc:
        raise UpstreamFailed(f"the text provider failed: {exc}") from exc
    ids = photos.image_ids.tolist()
    for chapter, rows, chapter_facts_ in zip(text["chapters"], found, facts, strict=True):
        chapter["image_ids"] = [ids[i] for i in rows]
        chapter["facts"] = chapter_facts_
    return text
