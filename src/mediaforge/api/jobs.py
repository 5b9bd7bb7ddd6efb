"""``/v1/jobs``: submit, read (with long-poll), list, cancel, retry."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.credits.ledger import charge_for
from mediaforge.errors import BadRequest
from mediaforge.jobs import service as jobs
from mediaforge.jobs.repository import JobFilter, JobRepository
from mediaforge.jobs.schemas import JobCreate, JobView
from mediaforge.jobs.states import TERMINAL, JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
Reader = Annotated[Principal, Caller("jobs:read")]
Writer = Annotated[Principal, Caller("jobs:write")]


class JobPage(BaseModel):
    """One page of jobs, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[JobView]
    next_cursor: str | None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JobView)
def create_job(
    body: JobCreate,
    session: DbSession,
    rt: Rt,
    who: Writer,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobView:
    """Submit a job; the same ``idempotency_key`` (body or header) returns the first job with 200."""
    if idempotency_key and not body.idempotency_key:
        body = body.model_copy(update={"idempotency_key": idempotency_key})
    job, created = jobs.create(session, who.owner_id, body, registry=rt.registry, settings=rt.settings)
    if not created:
        response.status_code = status.HTTP_200_OK
    else:
        charge_for(session, rt.settings, who, [(job.id, job.type)])
    return jobs.view(session, job)


@router.get("", response_model=JobPage)
def list_jobs(
    session: ReadSession,
    who: Reader,
    status_: Annotated[list[JobStatus] | None, Query(alias="status")] = None,
    type: str | None = None,
    parent_id: str | None = None,
    workflow_id: str | None = None,
    queue: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> JobPage:
    """The caller's jobs, filtered, keyset-paginated."""
    flt = JobFilter(
        status=[s.value for s in status_ or []],
        type=type,
        parent_id=parent_id,
        workflow_id=workflow_id,
        queue=queue,
    )
    rows = JobRepository(session).page(who.sees, flt, limit=limit + 1, before=_decode(cursor))
    page = rows[:limit]
    more = len(rows) > limit
    return JobPage(
        items=[jobs.view(session, j, detail=False) for j in page],
        next_cursor=_encode(page[-1].created_at, page[-1].id) if more else None,
    )


@router.get("/{job_id}", response_model=JobView)
async def get_job(
    job_id: str,
    rt: Rt,
    who: Reader,
    wait: Annotated[float, Query(ge=0, le=60)] = 0,
) -> JobView:
    """The job; with ``wait=N`` the answer comes once it finishes, or after N seconds with its state."""
    deadline = time.monotonic() + wait
    pause = 0.02
    while True:
        view = await run_in_threadpool(_read, rt, job_id, who.sees)
        if JobStatus(view.status) in TERMINAL or time.monotonic() >= deadline:
            return view
        await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.25)


def _read(rt: Rt, job_id: str, owner_id: str | None) -> JobView:
    with rt.db.session(read_only=True) as session:
        return jobs.view(session, jobs.get(session, job_id, owner_id))


@router.post("/{job_id}/cancel", response_model=JobView)
def cancel_job(job_id: str, session: DbSession, rt: Rt, who: Writer) -> JobView:
    """Cancel: queued and waiting jobs at once, running ones cooperatively then by force."""
    job = jobs.cancel(session, jobs.get(session, job_id, who.sees), rt.settings)
    return jobs.view(session, job)


@router.post("/{job_id}/retry", response_model=JobView)
def retry_job(job_id: str, session: DbSession, rt: Rt, who: Writer) -> JobView:
    """Queue a failed or cancelled job again, under the same id."""
    job = jobs.retry(session, jobs.get(session, job_id, who.sees), rt.settings)
    return jobs.view(session, job)


def _encode(created: datetime, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created.isoformat()}|{job_id}".encode()).decode()


def _decode(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        created, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), job_id
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor", code="invalid_cursor") from None
