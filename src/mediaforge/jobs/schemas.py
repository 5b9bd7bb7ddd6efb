"""The public shapes of a job: what clients send and what every channel shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from mediaforge.jobs.models import Job

__all__ = ["ChildrenSummary", "JobCreate", "JobError", "JobRow", "JobView"]

JobRow = Job | Row[Any]
"""A job as an ORM object or as a row returned by a Core ``UPDATE ... RETURNING`` (same attributes)."""


class JobError(BaseModel):
    """Why a job failed: a stable machine ``type`` and a human ``message``."""

    type: str
    message: str


class ChildrenSummary(BaseModel):
    """Counts over a parent's children; the five buckets always sum to ``total``."""

    total: int = 0
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0


class JobCreate(BaseModel):
    """A job submission."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(..., min_length=1, max_length=128, examples=["image.info"])
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=list, max_length=1000, description="Asset ids.")
    priority: int = Field(0, ge=-100, le=100, description="Higher runs first.")
    queue: str | None = Field(None, max_length=64)
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    max_attempts: int | None = Field(None, ge=1, le=100)
    timeout_seconds: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    cancel_after_seconds: float | None = Field(None, gt=0, description="Cancel if not started by then.")
    webhook_url: str | None = Field(None, max_length=2048, description="POST this job's events here.")
    webhook_events: list[str] | None = Field(
        None,
        max_length=50,
        description="Event types for webhook_url (e.g. job.completed, job.*); all if null.",
    )
    children: list[JobCreate] = Field(
        default_factory=list,
        max_length=10_000,
        description="Fan out: the parent finishes when they all have.",
    )
    meta: dict[str, Any] = Field(default_factory=dict)


class JobView(BaseModel):
    """A job as every face and channel sees it (faces rename fields, never re-derive them)."""

    id: str
    type: str
    status: str
    progress: float
    progress_message: str | None
    params: dict[str, Any]
    inputs: list[str]
    outputs: list[str]
    result: dict[str, Any] | None
    error: JobError | None
    parent_id: str | None
    workflow_id: str | None
    step_id: str | None
    queue: str
    priority: int
    attempt: int
    max_attempts: int
    worker_id: str | None = Field(description="The worker holding the job's lease while it runs.")
    cancel_requested: bool
    idempotency_key: str | None
    meta: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None
    children: ChildrenSummary | None = None
    queue_position: int | None = None
    waiting_reason: str | None = None

    @classmethod
    def of(cls, job: JobRow, **extra: Any) -> JobView:
        return cls(
            id=job.id,
            type=job.type,
            status=job.status,
            progress=job.progress,
            progress_message=job.progress_message,
            params=job.params,
            inputs=job.inputs,
            outputs=job.outputs,
            result=job.result,
            error=JobError.model_validate(job.error) if job.error else None,
            parent_id=job.parent_id,
            workflow_id=job.workflow_id,
            step_id=job.step_id,
            queue=job.queue,
            priority=job.priority,
            attempt=job.attempt,
            max_attempts=job.max_attempts,
            worker_id=job.lease_owner,
            cancel_requested=job.cancel_requested,
            idempotency_key=job.idempotency_key,
            meta=job.meta,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            expires_at=job.expires_at,
            **extra,
        )
