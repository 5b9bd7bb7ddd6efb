"""Photo intelligence for a caller's end users: import (analyse) their images, then four actions.

Import. ``import_job(params, settings=...)`` builds the ``JobCreate`` of a ``photo.import``
parent with one ``photo.analyze`` child per image, created together at submit time, so the
parent's ``children_summary`` counts every image from the first poll; the face passes it to
``jobs.create``. (A plain ``JobCreate(type=IMPORT_TYPE, params=...)`` works too: the
``photo.import`` processor then fans the same children out when it runs.) Each child downloads
its ``download_uri`` through the SSRF guard (``settings.allow_hosts`` exempts trusted storage
hosts), analyses the image, and its ``on_success`` hook upserts the features into ``photos``
keyed by (owner_id, user_id, image_id) in the transaction that completes the child. A refused
or failed download fails that child only.

Actions. ``run_action`` validates the action's params (one pydantic model each), loads the
user's photos, and either answers at once (``Done``) or starts a job (``Started``):
SUGGEST_PHOTOBOOK always runs as a job, and so does any action over more than
``settings.photos_sync_max_photos`` photos. The job never reads the database: its input is a
``.npz`` snapshot of the photos' features, stored as an asset of the owner at submit time; the
job's ``result`` is the action's result. Job types are ``photo.<lower-cased action>``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from mediaforge.assets import service as assets
from mediaforge.config import Settings
from mediaforge.errors import BadRequest, MediaforgeError, NotFound
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.schemas import JobCreate
from mediaforge.photos.index import PhotoIndex
from mediaforge.photos.photoset import PhotoSet
from mediaforge.photos.schemas import (
    AlternativesParams,
    AnalyzeParams,
    DuplicatesParams,
    ImportImage,
    ImportParams,
    PhotobookParams,
    TextParams,
)
from mediaforge.processors.registry import Registry
from mediaforge.storage import Storage, storage_from_settings

__all__ = [
    "ACTIONS",
    "ACTION_JOB_TYPES",
    "ANALYZE_TYPE",
    "IMPORT_TYPE",
    "ActionOutcome",
    "Done",
    "ImportImage",
    "ImportParams",
    "Started",
    "UnknownPhotos",
    "UpstreamFailed",
    "analyze_params",
    "import_job",
    "run_action",
]

IMPORT_TYPE = "photo.import"
ANALYZE_TYPE = "photo.analyze"
ACTIONS = ("SUGGEST_TEXT", "SUGGEST_ALTERNATIVE_IMAGES", "DETECT_DUPLICATES", "SUGGEST_PHOTOBOOK")
ACTION_JOB_TYPES = {action: f"photo.{action.lower()}" for action in ACTIONS}
PARAMS: dict[str, type[BaseModel]] = {
    "SUGGEST_TEXT": TextParams,
    "SUGGEST_ALTERNATIVE_IMAGES": AlternativesParams,
    "DETECT_DUPLICATES": DuplicatesParams,
    "SUGGEST_PHOTOBOOK": PhotobookParams,
}
_ALWAYS_ASYNC = frozenset({"SUGGEST_PHOTOBOOK"})


class UpstreamFailed(MediaforgeError):
    """A provider the action depends on (the LLM) failed or answered nonsense."""

    status = 502
    code = "upstream_failed"


class UnknownPhotos(NotFound):
    code = "photos_not_found"


@dataclass(frozen=True)
class Done:
    """The action finished: answer 200 with ``result``."""

    result: dict[str, Any]


@dataclass(frozen=True)
class Started:
    """The action runs as ``job``: answer 202; the job's ``result`` is the action's result."""

    job: Job


ActionOutcome = Done | Started


# --- import --------------------------------------------------------------------------------
def analyze_params(params: ImportParams, image: ImportImage, settings: Settings) -> dict[str, Any]:
    """The params of the ``photo.analyze`` child for one image of ``params``."""
    return AnalyzeParams(
        user_id=params.user_id,
        image=image,
        source_type=params.source_type,
        image_type=params.image_type,
        data_source=params.data_source,
        embedding=settings.photos_embedding,
        faces=settings.photos_faces,
    ).model_dump(mode="json")


def import_job(params: ImportParams, *, settings: Settings) -> JobCreate:
    """The ``photo.import`` parent with its children (one per image; none for an empty list)."""
    children = [
        JobCreate(
            type=ANALYZE_TYPE, params=analyze_params(params, image, settings), meta=_meta(params, image)
        )
        for image in params.images
    ]
    return JobCreate(
        type=IMPORT_TYPE,
        params=params.model_dump(mode="json"),
        children=children,
        meta={"user_id": params.user_id, "images": len(params.images)},
    )


def _meta(params: ImportParams, image: ImportImage) -> dict[str, Any]:
    return {"user_id": params.user_id, "image_id": image.image_id}


# --- actions -------------------------------------------------------------------------------
def parse_params(action: str, params: dict[str, Any]) -> BaseModel:
    """The action's params model; a ``BadRequest`` that names the first offending field."""
    if action not in PARAMS:
        raise BadRequest(f"unknown action {action!r}; one of {', '.join(ACTIONS)}", code="unknown_action")
    try:
        return PARAMS[action].model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "params"
        raise BadRequest(
            f"invalid params for {action}: {where}: {first['msg']}", code="invalid_params"
        ) from None


def run_action(
    session: Session,
    owner_id: str,
    user_id: str,
    action: str,
    params: dict[str, Any],
    *,
    settings: Settings,
    registry: Registry,
    storage: Storage | None = None,
    face: str = "ifolor",
) -> ActionOutcome:
    """Run ``action`` on the user's photos now (``Done``) or as a job (``Started``).

    Raises ``BadRequest`` for invalid params, ``NotFound`` for a user without photos or unknown
    image ids, ``UpstreamFailed`` (502) when the configured LLM provider fails.
    """
    from mediaforge.photos import actions

    parsed = parse_params(action, params)
    photos = PhotoIndex(session).load(owner_id, user_id)
    if not len(photos):
        raise UnknownPhotos(f"user {user_id!r} has no imported photos")
    photos = actions.select(photos, parsed)
    if action not in _ALWAYS_ASYNC and len(photos) <= settings.photos_sync_max_photos:
        return Done(actions.run(action, photos, parsed, settings))
    job = _start(session, owner_id, user_id, action, parsed, photos, settings, registry, storage, face)
    return Started(job)


def _start(
    session: Session,
    owner_id: str,
    user_id: str,
    action: str,
    parsed: BaseModel,
    photos: PhotoSet,
    settings: Settings,
    registry: Registry,
    storage: Storage | None,
    face: str,
) -> Job:
    """Snapshot the photos into an ``.npz`` asset and queue the action's job on it."""
    with tempfile.TemporaryDirectory(dir=_tmp(settings)) as folder:
        path = Path(folder) / "photos.npz"
        photos.save(path)
        asset = assets.ingest_file(
            session,
            storage or storage_from_settings(settings),
            settings,
            owner_id=owner_id,
            path=path,
            filename=f"{action.lower()}-snapshot.npz",
            source="photos",
        )
    spec = JobCreate(
        type=ACTION_JOB_TYPES[action],
        params=parsed.model_dump(mode="json"),
        inputs=[asset.id],
        meta={"user_id": user_id, "action": action, "photos": len(photos)},
    )
    job, _ = jobs.create(session, owner_id, spec, registry=registry, settings=settings, face=face)
    return job


def _tmp(settings: Settings) -> Path:
    path = settings.data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path
