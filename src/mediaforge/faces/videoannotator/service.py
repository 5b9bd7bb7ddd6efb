"""The face's rules over the core services: submit, read, cancel, delete, results.

Submit validates everything before anything is stored: the pipeline names, the config (against each
pipeline's ``config_schema``), that each pipeline can run here, and that the upload is a decodable
video of one of the five containers (by its bytes and by probing, never by its name).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from mediaforge.api.deps import Principal
from mediaforge.assets import service as assets
from mediaforge.assets.models import Asset
from mediaforge.errors import MediaforgeError
from mediaforge.faces.videoannotator import queries
from mediaforge.faces.videoannotator.errors import (
    AlreadyFinished,
    InvalidConfig,
    InvalidVideo,
    JobNotFound,
    PipelineUnavailable,
    ResultNotFound,
)
from mediaforge.faces.videoannotator.pipelines import CATALOG, Pipeline, find, resolve
from mediaforge.faces.videoannotator.translate import (
    FACE,
    JOB_TYPE,
    Tree,
    child_status,
    pipeline_of,
    status_of,
)
from mediaforge.faces.videoannotator.validation import validate
from mediaforge.jobs import service as jobs
from mediaforge.jobs.schemas import JobCreate
from mediaforge.runtime import Runtime
from mediaforge.video.probe import probe_video

__all__ = [
    "VIDEO_TYPES",
    "cancel",
    "enabled",
    "get",
    "parse_config",
    "parse_selection",
    "remove",
    "result_file",
    "submit",
]

VIDEO_TYPES = {
    "video/mp4": "MP4",
    "video/x-msvideo": "AVI",
    "video/quicktime": "MOV",
    "video/x-matroska": "MKV",
    "video/webm": "WEBM",
}
"""The contract's five containers, as the sniffer names them from the bytes."""


def parse_selection(raw: str | None) -> list[str] | None:
    """``"a, b,a"`` (or a JSON array) -> ``["a", "b"]``; None (all enabled pipelines) when absent or blank."""
    if raw is None:
        return None
    parts: list[str] = raw.split(",")
    if raw.strip().startswith("["):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidConfig(
                "selected_pipelines is neither comma-separated names nor a JSON array"
            ) from None
        if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
            raise InvalidConfig("selected_pipelines must be comma-separated names or a JSON array of names")
        parts = parsed
    names = list(dict.fromkeys(part.strip() for part in parts if part.strip()))
    return names or None


def parse_config(raw: str | None) -> dict[str, Any] | None:
    """The ``config`` form field as an object; 400 INVALID_CONFIG when it is not JSON or not an object."""
    if raw is None or not raw.strip():
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidConfig(
            f"Invalid JSON in config: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidConfig("config must be a JSON object keyed by pipeline name")
    return parsed


def enabled(rt: Runtime) -> list[Pipeline]:
    """The pipelines this server can run now."""
    return [p for p in CATALOG if p.availability(rt.registry).available]


def submit(
    session: Session,
    rt: Runtime,
    who: Principal,
    *,
    video: BinaryIO,
    filename: str | None,
    selected: list[str] | None,
    config: dict[str, Any] | None,
) -> Tree:
    """Validate, store the video, create the parent job and one child per pipeline."""
    pipelines = _selection(rt, selected)
    outcome = validate(config or {}, [p.name for p in pipelines], rt.registry)
    if not outcome.valid:
        raise InvalidConfig(
            outcome.summary(), details={"errors": [e.model_dump(mode="json") for e in outcome.errors]}
        )
    for pipeline in pipelines:
        availability = pipeline.availability(rt.registry)
        if not availability.available:
            hint = f" ({availability.hint})" if availability.hint else ""
            raise PipelineUnavailable(
                f"Pipeline '{pipeline.name}' is not available on this server: {availability.reason}{hint}",
                details={"pipeline_name": pipeline.name, "reason": availability.reason},
            )
    probed: dict[str, Any] = {}
    asset = assets.ingest_stream(
        session,
        rt.storage,
        rt.settings,
        owner_id=who.owner_id,
        stream=video,
        filename=filename,
        check=_video_check(probed),
    )
    meta = {
        FACE: {
            "video_filename": filename or asset.filename,
            "video_size_bytes": asset.size,
            "video_duration_seconds": _whole_seconds(probed.get("duration_seconds")),
            "video": probed,
            "selected_pipelines": [p.name for p in pipelines],
            "config": config if config is not None else {},
            "warnings": [w.model_dump(mode="json") for w in outcome.warnings],
        }
    }
    children = [
        JobCreate(
            type=p.processor,
            params=outcome.params.get(p.name, {}),
            inputs=[asset.id],
            meta={FACE: {"pipeline": p.name}},
        )
        for p in pipelines
    ]
    spec = JobCreate(type=JOB_TYPE, inputs=[asset.id], children=children, meta=meta)
    parent, _ = jobs.create(
        session, who.owner_id, spec, registry=rt.registry, settings=rt.settings, face=FACE
    )
    return get(session, parent.id, who)


def _selection(rt: Runtime, selected: list[str] | None) -> list[Pipeline]:
    if selected is None:
        available = enabled(rt)
        if not available:
            raise PipelineUnavailable("No pipeline is available on this server")
        return available
    found, unknown = resolve(selected)
    if unknown:
        names = ", ".join(f"'{n}'" for n in unknown)
        catalog = ", ".join(p.name for p in CATALOG)
        raise InvalidConfig(
            f"Configuration validation failed: unknown pipeline(s) {names}; available pipelines: {catalog}",
            details={"unknown_pipelines": unknown, "available_pipelines": [p.name for p in CATALOG]},
        )
    return found


def _video_check(probed: dict[str, Any]) -> assets.Check:
    def check(path: Path, content_type: str) -> None:
        if content_type not in VIDEO_TYPES:
            raise InvalidVideo(
                f"Unsupported file type ({content_type}): upload a video (MP4, AVI, MOV, MKV, WEBM)",
                details={"content_type": content_type},
            )
        try:
            info = probe_video(path)
        except MediaforgeError as exc:  # name the upload, not our spool file
            reason = exc.message.replace(str(path), "the upload").replace(path.name, "the upload")
            raise InvalidVideo(
                f"Invalid video file: {reason}",
                details={"content_type": content_type, "reason": exc.code},
            ) from None
        probed.update(info.as_dict())

    return check


def _whole_seconds(value: Any) -> int | None:
    return round(value) if isinstance(value, int | float) else None


# --- reading and changing ----------------------------------------------------------------------


def get(session: Session, job_id: str, who: Principal, *, for_update: bool = False) -> Tree:
    """The caller's job (an admin's: anyone's); another tenant's is 404 JOB_NOT_FOUND."""
    tree = queries.get_tree(session, job_id, who.sees, for_update=for_update)
    if tree is None:
        raise JobNotFound(job_id)
    return tree


def cancel(session: Session, rt: Runtime, job_id: str, who: Principal) -> Tree:
    """pending and running are cancelled; cancelled stays (idempotent); completed and failed are 409."""
    tree = get(session, job_id, who, for_update=True)
    status = status_of(tree.parent, tree.children)
    if status in ("completed", "failed"):
        raise AlreadyFinished(job_id, status)
    if status != "cancelled":
        jobs.cancel(session, tree.parent, rt.settings)
    return get(session, job_id, who)


def remove(session: Session, rt: Runtime, job_id: str, who: Principal) -> None:
    """Cancel if still going, delete the video and the result files, then the job itself."""
    tree = get(session, job_id, who, for_update=True)
    if status_of(tree.parent, tree.children) in ("pending", "running"):
        jobs.cancel(session, tree.parent, rt.settings)
    files = [a for a in queries.outputs_of(session, tree.children).values() if a.deleted_at is None]
    if tree.video is not None and tree.video.deleted_at is None:
        files.append(tree.video)
    for asset in files:
        assets.delete(session, rt.storage, asset)
    queries.delete_tree(session, tree.parent.id)


def result_file(session: Session, job_id: str, name: str, who: Principal) -> Asset:
    """The pipeline's output file; 404 RESULT_NOT_FOUND when the job has no such finished file."""
    tree = get(session, job_id, who)
    pipeline = find(name)
    child = next((c for c in tree.children if pipeline and pipeline_of(c) == pipeline.name), None)
    if child is None:
        raise ResultNotFound(
            f"Pipeline '{name}' is not part of job {job_id}",
            details={"job_id": job_id, "pipeline_name": name},
        )
    output = queries.outputs_of(session, [child]).get(child.id)
    if child.status != "succeeded" or output is None or output.deleted_at is not None:
        raise ResultNotFound(
            f"No result file for pipeline '{name}' of job {job_id} (pipeline status: {child_status(child)})",
            details={"job_id": job_id, "pipeline_name": name},
        )
    return output
