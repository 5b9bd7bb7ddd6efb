"""``/api/jobs`` (list, get, cancel) and ``/api/workflows/{id}/cancel``: the caller's jobs, Ifolor's words."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from sqlalchemy.orm import Session

from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.config import Settings
from mediaforge.errors import BadRequest, NotFound
from mediaforge.faces.ifolor import repository
from mediaforge.faces.ifolor.envelope import ifolor_router
from mediaforge.faces.ifolor.schemas import (
    JobCancelResponse,
    JobListResponse,
    JobResponse,
    WorkflowCancelResponse,
    errors,
)
from mediaforge.faces.ifolor.translate import core_statuses, core_types, render_job, status_of
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.repository import JobFilter, JobRepository
from mediaforge.jobs.states import TERMINAL, JobStatus
from mediaforge.workflows import service as workflows

__all__ = ["render", "router"]

router = ifolor_router(tags=["ifolor"])
Reader = Annotated[Principal, Caller("jobs:read")]
Writer = Annotated[Principal, Caller("jobs:write")]

_WORKFLOW_STATUS = {
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


class WorkflowNotFound(NotFound):
    code = "workflow_not_found"


def render(session: Session, job: Job) -> JobResponse:
    """A stored job as the contract's ``JobResponse`` (children summary counted now)."""
    return render_job(jobs.view(session, job, detail=False), updated_at=job.updated_at)


@router.get("/api/jobs", response_model=JobListResponse)
def list_jobs(
    session: ReadSession,
    who: Reader,
    status: Annotated[str | None, Query(description="Filter by status")] = None,
    job_type: Annotated[str | None, Query(description="Filter by job type")] = None,
    created_after: Annotated[datetime | None, Query(description="Filter jobs created after")] = None,
    created_before: Annotated[datetime | None, Query(description="Filter jobs created before")] = None,
    page: Annotated[int, Query(ge=1, description="Page number")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
) -> JobListResponse:
    """The caller's jobs (parents and children alike), newest first."""
    query = repository.JobQuery(
        owner_id=who.sees,
        statuses=core_statuses(status) if status else None,
        types=core_types(job_type) if job_type else None,
        created_after=_utc(created_after),
        created_before=_utc(created_before),
    )
    rows, total = repository.jobs_page(session, query, page=page, page_size=page_size)
    return JobListResponse(
        items=[render(session, job) for job in rows], total=total, page=page, page_size=page_size
    )


@router.get("/api/jobs/{job_id}", response_model=JobResponse, responses=errors(404))
def get_job(job_id: uuid.UUID, session: ReadSession, who: Reader) -> JobResponse:
    """One job; a parent carries its ``children_summary``."""
    return render(session, jobs.get(session, str(job_id), who.sees))


@router.post("/api/jobs/{job_id}/cancel", response_model=JobCancelResponse, responses=errors(400, 404))
def cancel_job(job_id: uuid.UUID, session: DbSession, rt: Rt, who: Writer) -> JobCancelResponse:
    """Queued jobs are cancelled now, running ones stop at their next check; a repeat is harmless."""
    job = jobs.get(session, str(job_id), who.sees)
    message = _cancel(session, job, rt.settings)
    return JobCancelResponse(
        id=job.id, status=status_of(job.status), cancellation_requested=True, message=message
    )


@router.post(
    "/api/workflows/{workflow_id}/cancel", response_model=WorkflowCancelResponse, responses=errors(400, 404)
)
def cancel_workflow(
    workflow_id: uuid.UUID, session: DbSession, rt: Rt, who: Writer
) -> WorkflowCancelResponse:
    """A workflow is a parent job (an import's fan-out) or a core DAG: it and its open branches stop."""
    key = str(workflow_id)
    job = JobRepository(session).get(key, owner_id=who.sees, for_update=True)
    if job is not None:
        message = _cancel(session, job, rt.settings, branches=True)
        return WorkflowCancelResponse(id=job.id, status=status_of(job.status), message=message)
    try:
        wf = workflows.get(session, key, who.sees, for_update=True)
    except NotFound:
        raise WorkflowNotFound(f"Workflow {key} not found") from None
    if wf.status in ("succeeded", "failed"):
        raise BadRequest(f"Workflow {key} is already {_WORKFLOW_STATUS[wf.status]}", code="workflow_finished")
    was = wf.status
    workflows.cancel(session, wf, rt.settings)
    message = (
        "Workflow was already cancelled" if was == "cancelled" else "Workflow cancelled; its branch jobs stop"
    )
    return WorkflowCancelResponse(
        id=wf.id, status=_WORKFLOW_STATUS.get(wf.status, wf.status), message=message
    )


def _cancel(session: Session, job: Job, settings: Settings, *, branches: bool = False) -> str:
    """Cancel ``job`` (with a parent's unsettled children); the message says what happened."""
    status = JobStatus(job.status)
    if status == JobStatus.CANCELLED:
        return "Job was already cancelled"
    if status in TERMINAL:
        raise BadRequest(f"Job {job.id} is already {status_of(job.status)}", code="job_finished")
    jobs.cancel(session, job, settings)
    if branches:  # a running parent's branches too (the core cancels a waiting parent's itself)
        for child in JobRepository(session).page(None, JobFilter(parent_id=job.id), limit=100_000):
            if JobStatus(child.status) not in TERMINAL:
                jobs.cancel(session, child, settings)
    if job.status == JobStatus.CANCELLED:
        settled = " and its unsettled children" if job.meta.get("children") else ""
        return f"Job{settled} cancelled"
    return "Cancellation requested; the running task stops at its next check"


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
