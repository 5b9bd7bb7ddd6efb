"""Between Tinify's words and the core's: settings to processor params, a core job to ``JobResponse``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any

from mediaforge.assets.models import Asset
from mediaforge.clock import utcnow
from mediaforge.faces.tinify.schemas import JobResponse, ProcessingSettings
from mediaforge.jobs.schemas import JobView

__all__ = [
    "FACE",
    "OPERATION",
    "PIPELINE",
    "TERMINAL",
    "expires_at",
    "job_meta",
    "params_for",
    "render",
    "status_of",
]

FACE = "tinify"
PIPELINE = "image.pipeline"
"""The processor every Tinify job runs: Upscale → Resize → Compress → Tag."""
OPERATION = "tinify.image"
"""What a Tinify job costs, by name, in ``credit_costs`` (1 credit by default)."""
TERMINAL = frozenset({"completed", "failed", "expired"})

_STATUS = {
    "queued": "queued",
    "waiting": "queued",
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
    "expired": "expired",
}


def params_for(settings: ProcessingSettings) -> dict[str, Any]:
    """The ``image.pipeline`` params for these settings (stages follow from values, as the contract says)."""
    params: dict[str, Any] = {
        "format": settings.output_format.value,
        "quality": settings.output_quality,
        "effort": "thorough",  # Tinify sells bytes: its files get the slower, smaller encoder settings
        "max_bytes": settings.output_file_size_limit,
        "width": settings.output_width,
        "height": settings.output_height,
        "fit": settings.output_resize_behavior.value,
        "upscale": settings.output_upscale_factor,
        "gif_frame_limit": settings.gif_frame_limit,
        # Renaming needs the SEO filename, so it runs the tagger too (and says so in executed_tag).
        "tag": settings.output_seo_tag_gen or settings.output_seo_rename,
    }
    return {k: v for k, v in params.items() if v is not None}


def job_meta(
    settings: ProcessingSettings, *, entry_point: str, source: str, credits: int, ttl_seconds: int
) -> dict[str, Any]:
    return {
        "tinify": {
            "settings": settings.model_dump(mode="json"),
            "entry_point": entry_point,
            "source": source,
            "credits": credits,
            "ttl": ttl_seconds,
        }
    }


def status_of(job: JobView, now: datetime | None = None) -> str:
    """Tinify's word for the job's state; a job past ``expires_at`` is ``expired`` (lazily)."""
    if (now or utcnow()) >= expires_at(job):
        return "expired"
    return _STATUS[job.status]


def expires_at(job: JobView) -> datetime:
    meta = job.meta.get("tinify", {})
    ttl = timedelta(seconds=int(meta.get("ttl", 0))) if meta.get("ttl") else None
    return job.expires_at or job.created_at + (ttl or timedelta(days=1))


def render(
    job: JobView, source: Asset | None, output: Asset | None = None, now: datetime | None = None
) -> JobResponse:
    """The contract's ``JobResponse`` for a core job, its input asset and its output asset."""
    meta = job.meta.get("tinify", {})
    wanted = ProcessingSettings.model_validate(meta.get("settings", {}))
    result = job.result or {}
    status = status_of(job, now)
    executed = result.get("executed", {})
    tags = result.get("tags") or {}
    out_format = result.get("output_format")
    filename = _processed_filename(result, tags, wanted, source)
    original_size = source.size if source else int(result.get("input_size", 0))
    processed_size = result.get("output_size")
    finished = job.finished_at if job.status in {"succeeded", "failed", "cancelled"} else None
    return JobResponse(
        id=job.id,
        status=status,
        original_filename=source.filename if source else "unknown",
        original_size=original_size,
        original_format=_format_name(source),
        original_mime_type=source.content_type if source else None,
        original_width=source.width if source else None,
        original_height=source.height if source else None,
        original_dpi=(source.meta or {}).get("dpi") if source else None,
        original_file_path=source.storage_key if source else None,
        output_format=wanted.output_format.value,
        output_upscale_factor=wanted.output_upscale_factor,
        output_width=wanted.output_width,
        output_height=wanted.output_height,
        output_resize_behavior=wanted.output_resize_behavior.value,
        output_quality=wanted.output_quality,
        output_file_size_limit=wanted.output_file_size_limit,
        output_seo_tag_gen=wanted.output_seo_tag_gen,
        output_seo_rename=wanted.output_seo_rename,
        executed_upscale=bool(executed.get("upscale")),
        executed_resize=bool(executed.get("resize")),
        executed_compress=bool(executed.get("compress")),
        executed_tag=bool(executed.get("tag")),
        processed_file_path=output.storage_key if output and status == "completed" else None,
        processed_filename=filename if status == "completed" else None,
        processed_size=processed_size,
        processed_format=out_format,
        processed_width=result.get("output_width"),
        processed_height=result.get("output_height"),
        processed_compression_ratio=round(original_size / processed_size, 4) if processed_size else None,
        seo_alt_text=tags.get("alt_text"),
        seo_filename=tags.get("seo_filename"),
        seo_keywords=tags.get("keywords"),
        job_source=meta.get("source"),
        job_entry_point=meta.get("entry_point"),
        processing_time_ms=_millis(job.started_at, finished),
        credits_used=int(meta.get("credits", 0)),
        error_message=job.error.message if job.error and job.status != "succeeded" else None,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=finished,
        expires_at=expires_at(job),
    )


def _processed_filename(
    result: dict[str, Any], tags: dict[str, Any], wanted: ProcessingSettings, source: Asset | None
) -> str | None:
    extension = result.get("output_format")
    if not extension:
        return None
    if wanted.output_seo_rename and tags.get("seo_filename"):
        return f"{tags['seo_filename']}.{extension}"
    stem = PurePosixPath(source.filename).stem if source else "image"
    return f"{stem}.{extension}"


def _format_name(source: Asset | None) -> str | None:
    if source is None:
        return None
    subtype = source.content_type.split("/", 1)[-1].split("+", 1)[0]
    return {"jpeg": "jpg", "x-icon": "ico", "vnd.microsoft.icon": "ico"}.get(subtype, subtype)


def _millis(start: datetime | None, end: datetime | None) -> int | None:
    return int((end - start).total_seconds() * 1000) if start and end else None
