"""Workflow rules: submit a DAG, start steps as their dependencies succeed, cancel, resume.

Steps become jobs only when they are ready, with params filled from their ancestors' results.
A resume bumps the workflow's epoch: failed or cancelled steps of older epochs count as not run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.errors import Conflict, MediaforgeError, NotFound
from mediaforge.events import repository as events
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.schemas import JobCreate, JobRow
from mediaforge.jobs.states import TERMINAL, JobStatus
from mediaforge.processors.registry import Registry, default_registry
from mediaforge.workflows import dag
from mediaforge.workflows.models import Workflow
from mediaforge.workflows.schemas import StepView, WorkflowView

__all__ = ["cancel", "get", "resume", "step_finished", "submit", "view"]

_STEP_STATE = {
    JobStatus.QUEUED: "running",
    JobStatus.RUNNING: "running",
    JobStatus.WAITING: "running",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.EXPIRED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


class WorkflowNotFound(NotFound):
    code = "workflow_not_found"


def get(session: Session, workflow_id: str, owner_id: str | None, *, for_update: bool = False) -> Workflow:
    query = select(Workflow).where(Workflow.id == workflow_id)
    if owner_id is not None:
        query = query.where(Workflow.owner_id == owner_id)
    if for_update:
        query = query.with_for_update()
    wf = session.scalars(query).first()
    if wf is None:
        raise WorkflowNotFound(f"workflow {workflow_id} not found")
    return wf


def submit(
    session: Session,
    owner_id: str,
    spec: dag.WorkflowSpec,
    *,
    registry: Registry,
    settings: Settings,
    face: str = "native",
    meta: dict[str, Any] | None = None,
) -> Workflow:
    """Validate the DAG (4xx on cycles, unknown steps, bad mappings), store it, start its roots."""
    dag.validate(spec)
    for step in spec.steps:
        registry.get(step.type)
    wf = Workflow(
        owner_id=owner_id,
        face=face,
        name=spec.name,
        status="running",
        spec=spec.model_dump(mode="json"),
        meta={"epoch": 0, **(meta or {})},
    )
    session.add(wf)
    session.flush()
    _emit(session, wf, "workflow.created")
    _advance(session, wf, registry, settings)
    return wf


def step_finished(session: Session, job: JobRow, *, settings: Settings) -> None:
    """Called in the transaction that ended a step's job: start what became ready."""
    assert job.workflow_id is not None
    wf = get(session, job.workflow_id, None, for_update=True)  # serializes sibling steps
    if wf.status == "running":
        _advance(session, wf, default_registry(), settings)


def cancel(session: Session, wf: Workflow, settings: Settings) -> Workflow:
    """Stop the workflow: no new steps; queued steps cancel now, running ones cooperatively."""
    if wf.status != "running":
        if wf.status == "cancelled":
            return wf
        raise Conflict(f"workflow {wf.id} already {wf.status}", code="workflow_finished")
    _finish(session, wf, "cancelled")
    for job in _jobs(session, wf):
        if JobStatus(job.status) not in TERMINAL:
            jobs.cancel(session, job, settings)
    return wf


def resume(session: Session, wf: Workflow, settings: Settings, registry: Registry) -> Workflow:
    """Rerun failed, cancelled and never-run steps; succeeded steps keep their results."""
    if wf.status == "running" or wf.status == "succeeded":
        raise Conflict(
            f"workflow {wf.id} is {wf.status}; only a failed or cancelled one resumes",
            code="workflow_not_resumable",
        )
    wf.meta = {**wf.meta, "epoch": int(wf.meta.get("epoch", 0)) + 1}
    wf.status, wf.finished_at = "running", None
    session.flush()
    _emit(session, wf, "workflow.resumed")
    _advance(session, wf, registry, settings)
    return wf


def view(session: Session, wf: Workflow) -> WorkflowView:
    spec = dag.WorkflowSpec.model_validate(wf.spec)
    latest = _latest(session, wf)
    steps = []
    for step in spec.steps:
        job = latest.get(step.id)
        start_error = _start_error(wf, step.id, job)
        steps.append(
            StepView(
                id=step.id,
                type=step.type,
                depends_on=step.depends_on,
                status="failed" if start_error else _state_of(job, wf) if job else "pending",
                job_id=job.id if job and not start_error else None,
                result=job.result if job and not start_error else None,
                outputs=job.outputs if job and not start_error else [],
                error=start_error or (job.error if job else None),
            )
        )
    return WorkflowView(
        id=wf.id,
        name=wf.name,
        status=wf.status,
        steps=steps,
        meta=wf.meta,
        created_at=wf.created_at,
        updated_at=wf.updated_at,
        finished_at=wf.finished_at,
    )


# --- internals -----------------------------------------------------------------------------
def _jobs(session: Session, wf: Workflow) -> list[Job]:
    query = select(Job).where(Job.workflow_id == wf.id).order_by(Job.created_at, Job.id)
    return list(session.scalars(query))


def _latest(session: Session, wf: Workflow) -> dict[str, Job]:
    return {job.step_id: job for job in _jobs(session, wf) if job.step_id}


def _state_of(job: Job, wf: Workflow) -> dag.StepState:
    state = _STEP_STATE[JobStatus(job.status)]
    stale = int(job.meta.get("epoch", 0)) < int(wf.meta.get("epoch", 0))
    return "pending" if stale and state in ("failed", "cancelled") else state  # type: ignore[return-value]


def _start_error(wf: Workflow, step_id: str, job: Job | None) -> dict[str, Any] | None:
    """Why ``step_id`` could not become a job in this epoch (bad mapping, input...), if it could not."""
    error = wf.meta.get("errors", {}).get(step_id)
    epoch = int(wf.meta.get("epoch", 0))
    if not isinstance(error, dict) or error.get("epoch") != epoch:
        return None
    if job is not None and int(job.meta.get("epoch", 0)) >= epoch:
        return None
    return {"type": error["type"], "message": error["message"]}


def _advance(session: Session, wf: Workflow, registry: Registry, settings: Settings) -> None:
    spec = dag.WorkflowSpec.model_validate(wf.spec)
    latest = _latest(session, wf)
    status: dict[str, dag.StepState] = {step_id: _state_of(job, wf) for step_id, job in latest.items()}
    status |= {s.id: "failed" for s in spec.steps if _start_error(wf, s.id, latest.get(s.id))}
    results = {sid: dag.StepResult(result=j.result, outputs=list(j.outputs)) for sid, j in latest.items()}
    by_id = {s.id: s for s in spec.steps}
    for step_id in dag.ready_steps(spec, status):
        status[step_id] = _start_step(session, wf, by_id[step_id], results, registry, settings)
    state = dag.workflow_state(spec, status)
    if state != "running":
        _finish(session, wf, state)


def _start_step(
    session: Session,
    wf: Workflow,
    step: dag.StepSpec,
    results: dict[str, dag.StepResult],
    registry: Registry,
    settings: Settings,
) -> dag.StepState:
    epoch = int(wf.meta.get("epoch", 0))
    try:
        params, inputs = dag.resolve_params(step, results)
        spec = JobCreate(
            type=step.type,
            params=params,
            inputs=inputs,
            queue=step.queue,
            priority=step.priority or 0,
            max_attempts=step.max_attempts,
            meta={"epoch": epoch},
        )
        job, _ = jobs.create(
            session,
            wf.owner_id,
            spec,
            registry=registry,
            settings=settings,
            face=wf.face,
            workflow_id=wf.id,
            step_id=step.id,
        )
    except MediaforgeError as exc:
        error = {"type": exc.code, "message": exc.message}
        _emit(session, wf, "workflow.step_failed", step_id=step.id, error=error)
        wf.meta = {**wf.meta, "errors": {**wf.meta.get("errors", {}), step.id: {**error, "epoch": epoch}}}
        return "failed"
    return _state_of(job, wf)


def _finish(session: Session, wf: Workflow, state: str) -> None:
    wf.status, wf.finished_at, wf.updated_at = state, utcnow(), utcnow()
    session.flush()
    _emit(session, wf, f"workflow.{state}")


def _emit(session: Session, wf: Workflow, type: str, **extra: Any) -> None:
    payload = {"id": wf.id, "name": wf.name, "status": wf.status, **extra}
    events.append(session, type, owner_id=wf.owner_id, payload=payload, workflow_id=wf.id)
