"""``photo.import`` and ``photo.analyze``: a user's images, downloaded and analysed one child each.

``photo.import`` fans out one ``photo.analyze`` child per image (when the parent was not created
with its children already, see ``mediaforge.photos.service``). ``photo.analyze`` downloads its
image through the SSRF guard and returns the image's features as its result; its ``on_success``
hook upserts them into ``photos`` in the transaction that completes the job.
"""

from __future__ import annotations

import ssl
from functools import cache

import certifi
from sqlalchemy.orm import Session

from mediaforge.errors import BadRequest, MediaforgeError
from mediaforge.jobs.schemas import JobRow
from mediaforge.net import BlockedAddress, fetch_to_file
from mediaforge.photos.features import AnalyzeOptions, InvalidImage, PhotoFeatures, analyze_file
from mediaforge.photos.index import PhotoIndex
from mediaforge.photos.schemas import AnalyzeParams, ImportParams
from mediaforge.photos.service import ANALYZE_TYPE, IMPORT_TYPE, analyze_params
from mediaforge.processors.base import (
    ChildSpec,
    Context,
    InputFile,
    Output,
    PermanentFailure,
    Processor,
    Retry,
    RetryPolicy,
)

__all__ = ["PHOTO_ANALYZE", "PHOTO_IMPORT"]

_PERMANENT_CODES = frozenset({"url_blocked", "invalid_url", "fetch_too_large", "too_many_redirects"})


def _import(ctx: Context, inputs: list[InputFile], params: ImportParams) -> Output:
    children = [
        ChildSpec(ANALYZE_TYPE, analyze_params(params, image, ctx.settings)) for image in params.images
    ]
    return Output(result={"user_id": params.user_id, "images": len(children)}, children=children)


def _analyze(ctx: Context, inputs: list[InputFile], params: AnalyzeParams) -> Output:
    settings = ctx.settings
    path = ctx.tmp_dir / "image"
    try:
        with path.open("wb") as dest:
            fetched = fetch_to_file(
                params.image.download_uri,
                dest,
                max_bytes=settings.max_upload_bytes,
                timeout=settings.fetch_timeout_seconds,
                max_redirects=settings.fetch_max_redirects,
                allow_hosts=settings.allow_hosts,
                verify=_tls(),
            )
    except MediaforgeError as exc:
        raise _download_error(exc) from None
    ctx.check_cancelled()
    options = AnalyzeOptions(
        embedding=params.embedding, faces=params.faces, max_pixels=settings.max_image_pixels
    )
    try:
        features = analyze_file(path, options)
    except InvalidImage as exc:
        raise PermanentFailure(str(exc), type="invalid_image") from exc
    result = {"user_id": params.user_id, "image_id": params.image.image_id, **features.as_result()}
    result["download"] = {"content_type": fetched.content_type, "size": fetched.size}
    return Output(result=result)


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context per work process: httpx would otherwise load the CA bundle per download
    (about 25 ms, more than decoding and analysing a photo)."""
    return ssl.create_default_context(cafile=certifi.where())


def _download_error(exc: MediaforgeError) -> Exception:
    """Refusals and client errors are permanent; timeouts and server errors are retried."""
    status = exc.details.get("status") if isinstance(exc.details, dict) else None
    if isinstance(exc, BlockedAddress) or exc.code in _PERMANENT_CODES:
        return PermanentFailure(exc.message, type=exc.code)
    if isinstance(exc, BadRequest) and isinstance(status, int) and 400 <= status < 500 and status != 429:
        return PermanentFailure(exc.message, type="download_failed")
    return Retry(exc.message)


def _store(session: Session, job: JobRow) -> None:
    """``photo.analyze`` succeeded: its features go into ``photos`` in the same transaction."""
    result = job.result or {}
    params = AnalyzeParams.model_validate(job.params)
    meta = {
        "source_type": params.source_type,
        "image_type": params.image_type,
        "data_source": params.data_source,
        "metadata": params.image.metadata,
        "uploaded_at": params.image.uploaded_at.isoformat() if params.image.uploaded_at else None,
        "derivative_created_at": params.image.derivative_created_at.isoformat()
        if params.image.derivative_created_at
        else None,
    }
    PhotoIndex(session).upsert(
        job.owner_id,
        params.user_id,
        params.image.image_id,
        PhotoFeatures.from_result(result),
        job_id=job.id,
        meta=meta,
    )


PHOTO_IMPORT = Processor(
    IMPORT_TYPE,
    _import,
    ImportParams,
    description="Import a user's photos: one photo.analyze child per image.",
    requires=("PIL", "numpy"),
    timeout=60,
)

PHOTO_ANALYZE = Processor(
    ANALYZE_TYPE,
    _analyze,
    AnalyzeParams,
    description="Download one photo (SSRF-guarded) and index its hashes, EXIF, place, embedding and quality.",
    requires=("PIL", "numpy"),
    install_hint="pip install 'mediaforge[photo]'",
    timeout=120,
    retry=RetryPolicy(max_attempts=3, non_retryable=frozenset({"invalid_image", "download_failed"})),
    on_success=_store,
)
