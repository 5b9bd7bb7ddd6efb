"""Between VideoAnnotator's words and the core's: a parent job and its per-pipeline children.

One VideoAnnotator job is one core parent job (type ``videoannotator.job``, face ``videoannotator``)
with one child job per selected pipeline, so one failing pipeline never hides the others. The parent
waits while its children run and ends when they all have: failed only when every pipeline failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mediaforge.assets.models import Asset
from mediaforge.faces.videoannotator.schemas import JobResponse, JobResultsResponse, PipelineResultResponse
from mediaforge.jobs.models import Job

__all__ = [
    "API_VERSION",
    "CHILD_STATUS",
    "FACE",
    "JOB_TYPE",
    "STATUSES",
    "TERMINAL",
    "Tree",
    "child_status",
    "download_url",
    "meta_of",
    "pipeline_of",
    "progress_of",
    "render",
    "render_results",
    "status_of",
    "status_word",
]

FACE = "videoannotator"
JOB_TYPE = "videoannotator.job"
API_VERSION = "1.3.0"
"""The contract's version, reported everywhere the contract shows one."""
STATUSES = ("pending", "running", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "cancelled"})
CANCELLED_MESSAGE = "Job cancelled by user request"

CHILD_STATUS = {
    "queued": "pending",
    "running": "running",
    "waiting": "running",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "completed",
}
_PARENT_DONE = {
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "completed",
}


@dataclass(frozen=True)
class Tree:
    """A VideoAnnotator job as stored: the parent, its children (one per pipeline), the uploaded video."""

    parent: Job
    children: list[Job]
    video: Asset | None


def meta_of(job: Job) -> dict[str, Any]:
    found: dict[str, Any] = (job.meta or {}).get(FACE, {})
    return found


def pipeline_of(child: Job) -> str:
    return str(meta_of(child).get("pipeline", child.type.rsplit(".", 1)[-1]))


def child_status(child: Job) -> str:
    return CHILD_STATUS.get(child.status, child.status)


def status_of(parent: Job, children: list[Job]) -> str:
    """pending until a pipeline starts, running until all end, then completed / failed / cancelled."""
    return status_word(parent.status, started=any(c.status != "queued" for c in children))


def status_word(core_status: str, *, started: bool) -> str:
    """The word for a parent in ``core_status`` whose pipelines have (or have not) ``started``."""
    if core_status in _PARENT_DONE:
        return _PARENT_DONE[core_status]
    return "running" if started else "pending"


def progress_of(tree: Tree) -> float:
    """0-100: the mean of the pipelines' progress (an ended pipeline counts 100)."""
    if tree.parent.status in _PARENT_DONE:
        return 100.0
    if not tree.children:
        return 0.0
    done = [100.0 if c.status in _PARENT_DONE else float(c.progress or 0.0) for c in tree.children]
    return round(sum(done) / len(done), 1)


def download_url(job_id: str, pipeline: str) -> str:
    return f"/api/v1/jobs/{job_id}/results/files/{pipeline}"


def render(tree: Tree) -> JobResponse:
    """The contract's ``JobResponse`` (all 13 keys, null where unknown)."""
    parent, meta = tree.parent, meta_of(tree.parent)
    status = status_of(parent, tree.children)
    return JobResponse(
        id=parent.id,
        status=status,
        video_path=tree.video.storage_key if tree.video else None,
        video_filename=meta.get("video_filename"),
        video_size_bytes=meta.get("video_size_bytes"),
        video_duration_seconds=meta.get("video_duration_seconds"),
        config=meta.get("config"),
        selected_pipelines=meta.get("selected_pipelines"),
        created_at=parent.created_at,
        completed_at=parent.finished_at if status in TERMINAL else None,
        error_message=_error_message(parent, tree.children, status),
        result_path=f"/api/v1/jobs/{parent.id}/results" if status == "completed" else None,
        storage_path=None,
    )


def render_results(tree: Tree, outputs: dict[str, Asset]) -> JobResultsResponse:
    """Per-pipeline status, times, annotation count and file; ``outputs`` maps child id -> its file."""
    parent = tree.parent
    status = status_of(parent, tree.children)
    results = {}
    for child in tree.children:
        name = pipeline_of(child)
        results[name] = _pipeline_result(parent.id, name, child, outputs.get(child.id))
    return JobResultsResponse(
        job_id=parent.id,
        status=status,
        pipeline_results=results,
        created_at=parent.created_at,
        completed_at=parent.finished_at if status in TERMINAL else None,
        result_path=f"/api/v1/jobs/{parent.id}/results" if status == "completed" else None,
        error_message=_error_message(parent, tree.children, status),
    )


def _pipeline_result(job_id: str, name: str, child: Job, output: Asset | None) -> PipelineResultResponse:
    result = child.result or {}
    status = child_status(child)
    has_file = status == "completed" and output is not None and output.deleted_at is None
    return PipelineResultResponse(
        pipeline_name=name,
        status=status,
        start_time=child.started_at,
        end_time=child.finished_at,
        processing_time=_seconds(child.started_at, child.finished_at),
        annotation_count=result.get("annotation_count"),
        output_file=output.filename if has_file and output else None,
        download_url=download_url(job_id, name) if has_file else None,
        error_message=_child_error(child),
    )


def _child_error(child: Job) -> str | None:
    if child.status == "cancelled":
        return CANCELLED_MESSAGE
    if child.status == "failed" and child.error:
        return str(child.error.get("message") or child.error.get("type"))
    return None


def _error_message(parent: Job, children: list[Job], status: str) -> str | None:
    if status == "cancelled":
        return CANCELLED_MESSAGE
    failed = [(pipeline_of(c), _child_error(c)) for c in children if c.status == "failed"]
    reasons = "; ".join(f"{name}: {reason}" for name, reason in failed)
    if status == "failed":
        if failed:
            return f"All pipelines failed: {reasons}"
        return str((parent.error or {}).get("message", "Job failed"))
    if status == "completed" and parent.status == "expired":
        return "Results expired and were deleted"
    if status == "completed" and failed:
        return f"{len(failed)} of {len(children)} pipelines failed: {reasons}"
    return None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return round((end - start).total_seconds(), 3) if start and end else None
