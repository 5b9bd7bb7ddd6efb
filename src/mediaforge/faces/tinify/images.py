"""Tinify's two-phase flow: upload to a temp file, process into jobs, read status, download results."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from mediaforge.api.assets import stream_blob
from mediaforge.api.deps import DbSession, GuestOrCaller, Principal, ReadSession, Rt
from mediaforge.assets import service as assets
from mediaforge.assets.models import Asset
from mediaforge.clock import utcnow
from mediaforge.credits import ledger
from mediaforge.errors import BadRequest, MediaforgeError, NotFound, PaymentRequired, UnsupportedMedia
from mediaforge.faces.tinify.envelope import tinify_router
from mediaforge.faces.tinify.internal import Internal
from mediaforge.faces.tinify.schemas import (
    BatchStatusResponse,
    CompressRequest,
    JobResponse,
    ProcessFilesRequest,
    ProcessFilesResponse,
    ProcessingSettings,
    ProcessJobRequest,
    ResizeRequest,
    SignedUrlResponse,
    StatusResponse,
    TagRequest,
    TempFileResponse,
    UpscaleRequest,
    UrlUploadRequest,
)
from mediaforge.faces.tinify.translate import FACE, OPERATION, PIPELINE, job_meta, params_for, render
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.schemas import JobCreate
from mediaforge.media.probe import verify_image

__all__ = ["router"]

router = tinify_router(tags=["tinify"])

INPUT_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "image/avif",
        "image/bmp",
        "image/tiff",
        "image/heic",
        "image/heif",
        "image/svg+xml",
        "image/x-icon",
        "image/vnd.microsoft.icon",
    }
)
_SOURCES = {"guest": "guest", "device": "mcp", "session": "web", "api_key": "api", "local": "api"}


class JobNotFound(NotFound):
    code = "job_not_found"


# --- phase 1: upload ---------------------------------------------------------------------------------


@router.post("/upload", response_model=TempFileResponse)
def upload(
    file: UploadFile, response: Response, session: DbSession, rt: Rt, who: GuestOrCaller
) -> TempFileResponse:
    """Store one image as a temp file (no processing); the format comes from its bytes."""
    asset = assets.ingest_stream(
        session, rt.storage, rt.settings, stream=file.file, filename=file.filename, **_temp_options(rt, who)
    )
    return _temp_file(asset, response)


@router.post("/upload/url", response_model=TempFileResponse)
def upload_url(
    body: UrlUploadRequest, response: Response, session: DbSession, rt: Rt, who: GuestOrCaller
) -> TempFileResponse:
    """Fetch an image from a URL (through the SSRF guard) into a temp file."""
    asset = assets.ingest_url(
        session, rt.storage, rt.settings, url=body.url, filename=body.filename, **_temp_options(rt, who)
    )
    return _temp_file(asset, response)


def _temp_options(rt: Rt, who: Principal) -> dict[str, Any]:
    """What makes an asset a Tinify temp file: the caller's, short-lived, and a checked image."""
    return {
        "owner_id": who.owner_id,
        "ttl_seconds": rt.settings.tinify_temp_ttl_seconds,
        "check": _check_image(rt.settings.max_image_pixels),
    }


def _check_image(max_pixels: int) -> assets.Check:
    def check(path: Path, content_type: str) -> None:
        if content_type not in INPUT_TYPES:
            raise UnsupportedMedia(f"Unsupported file type: {content_type}", code="unsupported_media")
        if content_type == "image/svg+xml":
            _check_svg(path)
            return
        try:  # truncated or damaged files are refused here, never charged later
            verify_image(path, max_pixels)
        except MediaforgeError as exc:  # name the upload, not our spool file
            message = exc.message.replace(path.name, "the image")
            raise type(exc)(message, code=exc.code, details=exc.details) from None

    return check


def _check_svg(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(1 << 20).lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise BadRequest("SVG files with DOCTYPE or entity declarations are refused", code="unsafe_svg")


def _temp_file(asset: Asset, response: Response) -> TempFileResponse:
    meta = asset.meta or {}
    frames = meta.get("frames") if asset.content_type == "image/gif" else None
    duration = meta.get("duration_ms")
    assert asset.expires_at is not None
    return TempFileResponse(
        temp_file_id=asset.id,
        original_filename=asset.filename,
        file_size=asset.size,
        mime_type=asset.content_type,
        temp_path=asset.storage_key,
        expires_at=asset.expires_at,
        session_token=response.headers.get("X-Session-Token"),
        gif_frame_count=frames,
        gif_fps=round(frames * 1000 / duration, 3) if frames and frames > 1 and duration else None,
    )


# --- phase 2: process ----------------------------------------------------------------------------------


@router.post("/auto", response_model=ProcessFilesResponse)
def auto(body: ProcessFilesRequest, session: DbSession, rt: Rt, who: GuestOrCaller) -> ProcessFilesResponse:
    """Process temp files with the given settings: one job per file."""
    return _process(session, rt, who, body.temp_file_ids, body.settings, "auto")


@router.post("/compress", response_model=ProcessFilesResponse)
def compress(body: CompressRequest, session: DbSession, rt: Rt, who: GuestOrCaller) -> ProcessFilesResponse:
    return _process(session, rt, who, body.temp_file_ids, body.effective(), "compress")


@router.post("/resize", response_model=ProcessFilesResponse)
def resize(body: ResizeRequest, session: DbSession, rt: Rt, who: GuestOrCaller) -> ProcessFilesResponse:
    return _process(session, rt, who, body.temp_file_ids, body.effective(), "resize")


@router.post("/upscale", response_model=ProcessFilesResponse)
def upscale(body: UpscaleRequest, session: DbSession, rt: Rt, who: GuestOrCaller) -> ProcessFilesResponse:
    return _process(session, rt, who, body.temp_file_ids, body.effective(), "upscale")


@router.post("/tag", response_model=ProcessFilesResponse)
def tag(body: TagRequest, session: DbSession, rt: Rt, who: GuestOrCaller) -> ProcessFilesResponse:
    return _process(session, rt, who, body.temp_file_ids, body.effective(), "tag")


def _process(
    session: Session, rt: Rt, who: Principal, temp_ids: list[str], wanted: ProcessingSettings, entry: str
) -> ProcessFilesResponse:
    """All or nothing: every temp file must be the caller's and live, and the credits must cover all."""
    now = utcnow()
    sources = []
    for temp_id in temp_ids:
        asset = session.get(Asset, temp_id)
        if (
            asset is None
            or asset.owner_id != who.owner_id
            or asset.deleted_at is not None
            or (asset.expires_at is not None and asset.expires_at <= now)
        ):
            raise NotFound(f"Temp file not found or expired: {temp_id}", code="temp_file_not_found")
        sources.append(asset)
    cost = rt.settings.cost(OPERATION) if who.metered else 0
    meta = job_meta(
        wanted,
        entry_point=entry,
        source=_SOURCES.get(who.kind, "api"),
        credits=cost,
        ttl_seconds=rt.settings.tinify_job_ttl_seconds,
    )
    created = []
    for asset in sources:
        spec = JobCreate(type=PIPELINE, params=params_for(wanted), inputs=[asset.id], meta=meta)
        job, _ = jobs.create(
            session, who.owner_id, spec, registry=rt.registry, settings=rt.settings, face=FACE
        )
        created.append((job, asset))
    try:
        remaining = ledger.charge_for(session, rt.settings, who, [(job.id, OPERATION) for job, _ in created])
    except ledger.InsufficientCredits as exc:
        raise PaymentRequired(
            f"Insufficient credits: this needs {exc.details['required']}, {exc.details['available']} remain",
            code="insufficient_credits",
            details={**_credit_facts(session, rt, who), "credits_needed": exc.details["required"]},
        ) from None
    views = []
    for job, asset in created:
        response = render(jobs.view(session, job, detail=False), asset).model_dump(mode="json")
        views.append({**response, "job_id": job.id, "temp_file_id": asset.id})
    if remaining is None and who.metered:
        remaining = ledger.current(session, rt.settings, who.account_id)
    return ProcessFilesResponse(jobs=views, credits_used=cost * len(created), credits_remaining=remaining)


def _credit_facts(session: Session, rt: Rt, who: Principal) -> dict[str, Any]:
    return {
        "is_guest": who.role == "guest",
        "tier": who.tier,
        "credits_limit": rt.settings.credit_daily.get(who.tier, rt.settings.credit_plans.get(who.tier)),
        "credits_remaining": ledger.current(session, rt.settings, who.account_id) if who.metered else None,
    }


# --- the worker entry (Cloud Tasks' /process) ----------------------------------------------------------


@router.post("/process", dependencies=[Internal])
def process(body: ProcessJobRequest, session: DbSession) -> dict[str, Any]:
    """Idempotent: our workers run Tinify jobs from the queue; this reports (and never re-runs) one."""
    job, source = _find(session, body.job_id)
    view = _rendered(session, job, source)
    return {"success": True, "job_id": job.id, "status": view.status, "job": view.model_dump(mode="json")}


# --- status -------------------------------------------------------------------------------------------


@router.get("/status/{job_id}", response_model=StatusResponse)
def status_one(job_id: uuid.UUID, request: Request, session: ReadSession, rt: Rt) -> StatusResponse:
    """One job; its id is the capability (no auth), as the contract has it."""
    job, source = _find(session, str(job_id))
    view = jobs.view(session, job)
    rendered = render(view, source, session.get(Asset, job.outputs[0]) if job.outputs else None)
    extra: dict[str, Any] = {}
    if rendered.status == "queued":
        extra["queue_position"] = view.queue_position
        extra["estimated_wait_seconds"] = None
    if rendered.status == "completed":
        extra["download_url"] = str(request.url_for("download", job_id=job.id))
    return StatusResponse(job=rendered, **extra)


JobIds = Annotated[list[str], Query(description="Job ids, repeated or comma-separated.")]


def job_id_list(raw: list[str]) -> list[str]:
    """``?job_ids=a&job_ids=b`` and ``?job_ids=a,b`` alike; each must be a UUID (else 422)."""
    ids = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    out = []
    for value in ids or [""]:
        try:
            out.append(str(uuid.UUID(value)))
        except ValueError:
            error = {
                "loc": ("query", "job_ids"),
                "msg": "Input should be a valid UUID",
                "type": "uuid_parsing",
            }
            raise RequestValidationError([{**error, "input": value}]) from None
    return list(dict.fromkeys(out))


@router.get("/status", response_model=BatchStatusResponse)
def status_many(job_ids: JobIds, session: ReadSession) -> BatchStatusResponse:
    """Several jobs; unknown ids are left out and ``total`` counts the ones returned."""
    found = []
    for job_id in job_id_list(job_ids):
        try:
            job, source = _find(session, job_id)
        except JobNotFound:
            continue
        found.append(_rendered(session, job, source))
    return BatchStatusResponse(jobs=found, total=len(found))


# --- download -----------------------------------------------------------------------------------------


@router.get("/download/{job_id}", name="download")
def download(job_id: uuid.UUID, request: Request, session: ReadSession, rt: Rt) -> Response:
    """The processed file with its filename: 404 unknown, 410 expired, 400 not completed."""
    result, rendered = _result(session, str(job_id))
    return stream_blob(
        rt,
        result.storage_key,
        result.size,
        result.content_type,
        rendered.processed_filename,
        request.headers.get("range"),
    )


@router.get("/download/{job_id}/url", response_model=SignedUrlResponse)
def download_url(job_id: uuid.UUID, session: ReadSession, rt: Rt) -> SignedUrlResponse:
    """A signed link to the processed file, valid 15 minutes."""
    result, rendered = _result(session, str(job_id))
    filename = rendered.processed_filename or result.filename
    url = rt.storage.signed_url(result.storage_key, expires_in=900, filename=filename)
    return SignedUrlResponse(
        url=url, filename=filename, content_type=result.content_type, size=result.size, expires_in=900
    )


class Gone(MediaforgeError):
    status = 410
    code = "expired"


def _result(session: Session, job_id: str) -> tuple[Asset, JobResponse]:
    job, source = _find(session, job_id)
    rendered = _rendered(session, job, source)
    if rendered.status == "expired":
        raise Gone("Job has expired and its file was deleted")
    if rendered.status != "completed":
        raise BadRequest(f"Job is not completed (status: {rendered.status})", code="job_not_completed")
    output = session.get(Asset, job.outputs[0]) if job.outputs else None
    if output is None or output.deleted_at is not None:
        raise NotFound("Processed file not found", code="file_not_found")
    return output, rendered


def _find(session: Session, job_id: str) -> tuple[Job, Asset | None]:
    """A Tinify job by id (the id is the capability) and its source asset."""
    job = session.scalars(select(Job).where(Job.id == job_id, Job.face == FACE)).first()
    if job is None:
        raise JobNotFound("Job not found")
    return job, session.get(Asset, job.inputs[0]) if job.inputs else None


def _rendered(session: Session, job: Job, source: Asset | None, *, detail: bool = False) -> JobResponse:
    output = session.get(Asset, job.outputs[0]) if job.outputs else None
    return render(jobs.view(session, job, detail=detail), source, output)


def render_job(session: Session, job_id: str) -> JobResponse | None:
    """The job's ``JobResponse``, or None when there is no such Tinify job (for the streams)."""
    try:
        job, source = _find(session, job_id)
    except JobNotFound:
        return None
    return _rendered(session, job, source)
