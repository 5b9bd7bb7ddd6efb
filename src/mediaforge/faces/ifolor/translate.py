"""Between Ifolor's words and the core's: job statuses, job types, event names, and the bodies.

Where the contract is silent this follows the research digest (``docs/ifolor.md`` has the table):

* statuses: queued → ``pending``; running and waiting (a parent whose children run) → ``processing``;
  succeeded → ``completed``; ``failed``; ``cancelled``; ``expired`` (results deleted after retention).
* ``celery_task_id`` is the job id: our dispatch unit is the job row itself, leased by a worker per
  attempt, and like a Celery task id it stays the same across retries (a lease owner would change
  per attempt and is empty while queued). ``celery_task_name`` is the core job type (the processor).
* ``progress_percent`` of a parent is floor(100 * settled children / total); of any other job the
  worker's progress, floored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mediaforge.faces.ifolor.schemas import JobChildrenSummary, JobResponse, SubscriptionResponse
from mediaforge.jobs.schemas import ChildrenSummary, JobView
from mediaforge.photos import service as photos
from mediaforge.webhooks.models import Subscription

__all__ = [
    "EVENTS",
    "FACE",
    "STATUSES",
    "TERMINAL",
    "core_events",
    "core_statuses",
    "core_types",
    "event_name",
    "ifolor_events",
    "job_type",
    "render_job",
    "render_subscription",
    "status_of",
]

FACE = "ifolor"

_STATUS = {
    "queued": "pending",
    "running": "processing",
    "waiting": "processing",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "expired",
}
STATUSES = tuple(dict.fromkeys(_STATUS.values()))
"""Every status word this face shows."""

EVENTS: dict[str, tuple[str, ...]] = {
    "job.created": ("job.created",),
    "job.updated": ("job.updated", "job.cancelled", "job.expired"),
    "job.completed": ("job.completed",),
    "job.failed": ("job.failed",),
}
"""Ifolor event -> the core events it stands for. A cancellation is a status change (``job.updated``
with status ``cancelled``); ``job.progress`` is not one and is not sent."""
_EVENT_OF = {core: name for name, cores in EVENTS.items() for core in cores}

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "expired"})
"""Core statuses after which a job does not change (but for a manual retry)."""

_JOB_TYPES: dict[str, str] = {
    photos.IMPORT_TYPE: "import_user_images",
    photos.ANALYZE_TYPE: "import_user_image",
    **{core: action.lower() for action, core in photos.ACTION_JOB_TYPES.items()},
}
"""Core job type -> Ifolor ``job_type``, for the types whose Ifolor name differs (others pass through)."""
_INTERNAL_META = frozenset({"children", "webhook_events"})


# --- statuses and types --------------------------------------------------------------------------
def status_of(core_status: str) -> str:
    return _STATUS.get(core_status, core_status)


def core_statuses(status: str) -> list[str]:
    """The core statuses an Ifolor status filter means (none for a word this face never shows)."""
    return [core for core, word in _STATUS.items() if word == status]


def job_type(core_type: str) -> str:
    return _JOB_TYPES.get(core_type, core_type)


def core_types(ifolor_type: str) -> list[str]:
    """The core types an Ifolor ``job_type`` filter means."""
    named = [core for core, word in _JOB_TYPES.items() if word == ifolor_type]
    return named or ([ifolor_type] if ifolor_type not in _JOB_TYPES else [])


# --- events --------------------------------------------------------------------------------------
def event_name(core_type: str) -> str | None:
    """The Ifolor event a core event is delivered as (None: not an Ifolor event)."""
    return _EVENT_OF.get(core_type)


def core_events(events: Iterable[str]) -> list[str]:
    """The core event types a subscription to these (already checked) Ifolor events receives."""
    return list(dict.fromkeys(core for name in events for core in EVENTS[name]))


def ifolor_events(core: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(name for c in core if (name := _EVENT_OF.get(c)) is not None))


# --- bodies --------------------------------------------------------------------------------------
def render_job(job: JobView, *, updated_at: datetime) -> JobResponse:
    """The contract's ``JobResponse`` for a core job's public view (``updated_at`` is the row's, or
    the event's time when rendering an event)."""
    summary = _summary(job)
    started = job.started_at
    if started is None and summary is not None and job.status != "queued":
        started = job.created_at  # a parent is processing from the moment its children exist
    finished = job.finished_at if job.status in TERMINAL else None
    return JobResponse(
        id=job.id,
        parent_id=job.parent_id,
        celery_task_id=job.id,
        celery_task_name=job.type,
        job_type=job_type(job.type),
        status=status_of(job.status),
        progress_percent=_percent(job, summary),
        progress_message=job.progress_message,
        result=job.result,
        error_message=job.error.message if job.error and job.status != "succeeded" else None,
        queue=job.queue,
        created_at=job.created_at,
        updated_at=updated_at,
        started_at=started,
        completed_at=finished,
        processing_time_ms=_millis(started, finished),
        retry_count=max(job.attempt - 1, 0),
        cancellation_requested=job.cancel_requested,
        metadata=_metadata(job),
        children_summary=JobChildrenSummary(**summary.model_dump()) if summary is not None else None,
    )


def _summary(job: JobView) -> ChildrenSummary | None:
    if job.children is not None:
        return job.children
    if "children" in job.meta or job.type == photos.IMPORT_TYPE:  # a parent of no children: all 0
        return ChildrenSummary()
    return None


def _percent(job: JobView, summary: ChildrenSummary | None) -> int:
    if summary is not None:
        if summary.total == 0:
            return 100 if job.status in TERMINAL else 0
        return (100 * (summary.completed + summary.failed)) // summary.total
    return max(0, min(100, int(job.progress)))


def _metadata(job: JobView) -> dict[str, Any]:
    """The job's own facts: an import's source, an image's key, metadata and dates, an action's user."""
    found = {k: v for k, v in job.meta.items() if k not in _INTERNAL_META}
    if job.type == photos.IMPORT_TYPE:
        found.update({k: job.params.get(k) for k in ("source_type", "image_type", "data_source")})
    elif job.type == photos.ANALYZE_TYPE:
        image = job.params.get("image") or {}
        found.update({k: image.get(k) for k in ("metadata", "uploaded_at", "derivative_created_at")})
    return found


def _millis(start: datetime | None, end: datetime | None) -> int | None:
    return max(0, int((end - start).total_seconds() * 1000)) if start and end else None


def render_subscription(sub: Subscription, now: datetime) -> SubscriptionResponse:
    """An expired subscription reads as inactive with ``disabled_reason`` "expired"."""
    expired = sub.expires_at is not None and sub.expires_at <= now
    reason = sub.disabled_reason or ("expired" if expired else None)
    return SubscriptionResponse(
        id=sub.id,
        target_url=sub.target_url,
        transport=sub.transport,
        jobs=list(sub.job_ids),
        events=ifolor_events(sub.event_types),
        description=sub.description,
        is_active=sub.is_active and not expired,
        expires_at=sub.expires_at,
        consecutive_failures=sub.consecutive_failures,
        disabled_reason=reason,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def same_subscription(
    sub: Subscription, target_url: str, transport: str, events: Sequence[str], jobs: Sequence[str]
) -> bool:
    """Whether ``sub`` is what a create request with these values asks for (create is idempotent)."""
    return (
        sub.target_url == target_url.strip()
        and sub.transport == transport
        and set(ifolor_events(sub.event_types)) == set(events)
        and set(sub.job_ids) == set(jobs)
    )
