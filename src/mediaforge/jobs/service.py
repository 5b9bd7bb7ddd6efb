"""The rules of a job's life. Services never commit: the caller's unit of work does.

Every state change goes through ``_move`` (transition table check + outbox event) so no path can
change a job without the event that the delivery channels replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.credits.ledger import refund_job
from mediaforge.db.engine import after_commit
from mediaforge.engine import signals
from mediaforge.errors import Conflict, NotFound, ValidationFailed
from mediaforge.events import repository as events
from mediaforge.jobs.models import Job
from mediaforge.jobs.repository import JobFilter, JobRepository
from mediaforge.jobs.schemas import JobCreate, JobRow, JobView
from mediaforge.jobs.states import TERMINAL, JobStatus, check_transition
from mediaforge.net.guard import allowed_target
from mediaforge.processors.base import ChildSpec
from mediaforge.processors.registry import Registry

__all__ = [
    "cancel",
    "create",
    "emit",
    "expire",
    "fail_attempt",
    "get",
    "lease_expired",
    "retry",
    "succeed",
    "succeed_leased",
    "succeed_leased_many",
    "view",
]

S = JobStatus
_EVENT_FOR = {
    S.SUCCEEDED: "job.completed",
    S.FAILED: "job.failed",
    S.CANCELLED: "job.cancelled",
    S.EXPIRED: "job.expired",
}


class JobNotFound(NotFound):
    code = "job_not_found"


# --- reading -------------------------------------------------------------------------------
def get(session: Session, job_id: str, owner_id: str | None) -> Job:
    """The job, if ``owner_id`` may see it (None = any owner); another tenant's job is a 404."""
    job = JobRepository(session).get(job_id, owner_id=owner_id)
    if job is None:
        raise JobNotFound(f"job {job_id} not found")
    return job


def view(session: Session, job: JobRow, *, detail: bool = True) -> JobView:
    """The public view, with children summary and, while queued, position and waiting reason."""
    repo = JobRepository(session)
    extra: dict[str, Any] = {}
    if job.meta.get("children"):
        extra["children"] = repo.children_summary(job.id)
    if detail and job.status == S.QUEUED:
        extra["queue_position"] = repo.queue_position(job)
        extra["waiting_reason"] = _waiting_reason(session, job)
    return JobView.of(job, **extra)


def _waiting_reason(session: Session, job: JobRow) -> str:
    from mediaforge.workers import repository as workers

    if job.run_at > utcnow():
        return "retry_backoff"
    if not workers.any_can_run(session, job.type, job.queue):
        return "no_worker"
    return "queued"


# --- creating ------------------------------------------------------------------------------
def create(
    session: Session,
    owner_id: str,
    spec: JobCreate,
    *,
    registry: Registry,
    settings: Settings,
    face: str = "native",
    parent: Job | None = None,
    workflow_id: str | None = None,
    step_id: str | None = None,
) -> tuple[Job, bool]:
    """Create a job (and its children); returns (job, created) — created is False on an idempotent replay."""
    repo = JobRepository(session)
    if spec.idempotency_key and (existing := repo.by_idempotency_key(owner_id, spec.idempotency_key)):
        return existing, False
    if spec.webhook_url:
        allowed_target(spec.webhook_url, settings.allow_hosts)  # refused now, not at every delivery
    if spec.children:
        job = _new_job(
            owner_id,
            spec,
            face=face,
            queue=spec.queue or "default",
            max_attempts=1,
            timeout=None,
            status=S.WAITING,
            parent=parent,
            settings=settings,
        )
        job.meta = {**job.meta, "children": len(spec.children)}
    else:
        processor = registry.get(spec.type)
        job = _new_job(
            owner_id,
            spec,
            face=face,
            queue=spec.queue or processor.queue,
            max_attempts=spec.max_attempts or processor.retry.max_attempts or settings.default_max_attempts,
            timeout=spec.timeout_seconds or processor.timeout,
            status=S.QUEUED,
            parent=parent,
            settings=settings,
        )
        job.params = _validated_params(registry, spec.type, spec.params)
        job.capabilities = sorted(processor.capabilities)
        _check_inputs(session, owner_id, spec.inputs, processor.min_inputs, processor.max_inputs)
    job.workflow_id, job.step_id = workflow_id, step_id
    if spec.idempotency_key:
        try:  # a concurrent request with the same key may have won the race
            with session.begin_nested():
                session.add(job)
                session.flush()
        except IntegrityError:
            if existing := repo.by_idempotency_key(owner_id, spec.idempotency_key):
                return existing, False
            raise
    else:
        session.add(job)
        session.flush()
    emit(session, job, "job.created")
    for child in spec.children:
        create(session, owner_id, child, registry=registry, settings=settings, face=face, parent=job)
    if job.status == S.QUEUED:
        announce(session, job.queue)
    return job, True


def _new_job(
    owner_id: str,
    spec: JobCreate,
    *,
    face: str,
    queue: str,
    max_attempts: int,
    timeout: float | None,
    status: JobStatus,
    parent: Job | None,
    settings: Settings,
) -> Job:
    now = utcnow()
    return Job(
        type=spec.type,
        face=face,
        owner_id=owner_id,
        status=status.value,
        params=dict(spec.params),
        inputs=list(spec.inputs),
        outputs=[],
        meta={**spec.meta, "webhook_events": spec.webhook_events} if spec.webhook_events else dict(spec.meta),
        queue=queue,
        priority=spec.priority,
        capabilities=[],
        attempt=0,
        max_attempts=max_attempts,
        timeout_seconds=timeout,
        idempotency_key=spec.idempotency_key,
        webhook_url=spec.webhook_url,
        parent_id=parent.id if parent else None,
        created_at=now,
        updated_at=now,
        run_at=now,
        cancel_after=now + timedelta(seconds=spec.cancel_after_seconds)
        if spec.cancel_after_seconds
        else None,
        progress=0.0,
        cancel_requested=False,
        credits=0.0,
    )


def _validated_params(registry: Registry, type: str, raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return registry.get(type).parse_params(raw).model_dump(mode="json")
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        raise ValidationFailed(f"invalid params for {type}", code="invalid_params", details=details) from None


def _check_inputs(session: Session, owner_id: str, inputs: list[str], lo: int, hi: int | None) -> None:
    from mediaforge.assets.repository import AssetRepository

    if len(inputs) < lo or (hi is not None and len(inputs) > hi):
        wanted = f"{lo}" if lo == hi else f"{lo}..{hi if hi is not None else 'n'}"
        raise ValidationFailed(f"expected {wanted} input asset(s), got {len(inputs)}", code="invalid_inputs")
    if not inputs:
        return
    missing = set(inputs) - AssetRepository(session).existing_ids(owner_id, inputs)
    if missing:
        raise ValidationFailed(f"unknown input asset(s): {', '.join(sorted(missing))}", code="unknown_asset")


def announce(session: Session, queue: str) -> None:
    """Wake idle workers once this transaction commits (NOTIFY is transactional on PostgreSQL)."""
    announced: set[str] = session.info.setdefault("mediaforge_announced", set())
    if queue in announced:
        return
    if not announced:
        after_commit(session, signals.wake)
    announced.add(queue)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify('mediaforge_jobs', :queue)"), {"queue": queue})


# --- moving --------------------------------------------------------------------------------
def emit(session: Session, job: JobRow, type: str) -> None:
    """Write the outbox event for ``job`` (its public view is the payload)."""
    payload = view(session, job, detail=False).model_dump(mode="json")
    events.append(
        session, type, owner_id=job.owner_id, payload=payload, job_id=job.id, workflow_id=job.workflow_id
    )


def _move(session: Session, job: Job, new: JobStatus, settings: Settings, **values: Any) -> None:
    check_transition(JobStatus(job.status), new)
    for name, value in _changes(new, settings, values).items():
        setattr(job, name, value)
    session.flush()
    emit(session, job, _EVENT_FOR.get(new, "job.updated"))
    if new in TERMINAL and new != S.EXPIRED:
        _after_terminal(session, job, settings)


def _changes(new: JobStatus, settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    """The columns entering ``new`` sets: status, timestamps, lease release, retention deadline."""
    now = utcnow()
    changes: dict[str, Any] = {"status": new.value, "updated_at": now}
    if new in TERMINAL and new != S.EXPIRED:
        changes.update(finished_at=now, lease_owner=None, lease_expires_at=None)
        if settings.result_ttl_seconds:
            changes["expires_at"] = now + timedelta(seconds=settings.result_ttl_seconds)
    return {**changes, **values}


def _after_terminal(session: Session, job: JobRow, settings: Settings) -> None:
    if job.status == S.SUCCEEDED:
        _on_success(session, job)
    if job.parent_id:
        _maybe_finish_parent(session, job.parent_id, settings)
    if job.workflow_id:
        from mediaforge.workflows import service as workflows

        workflows.step_finished(session, job, settings=settings)


def _on_success(session: Session, job: JobRow) -> None:
    """The processor's ``on_success`` hook, in this transaction (the runtime uses the default registry)."""
    from mediaforge.processors.registry import default_registry

    registry = default_registry()
    if job.type in registry and (hook := registry.get(job.type).on_success) is not None:
        hook(session, job)


def _maybe_finish_parent(session: Session, parent_id: str, settings: Settings) -> None:
    repo = JobRepository(session)
    # The lock serializes siblings finishing at once; it reads the status only, since a batch
    # parent's params (its whole input list) would otherwise be decoded on every child's end.
    if repo.lock_status(parent_id) != S.WAITING or repo.has_unfinished_children(parent_id):
        return
    parent = repo.get(parent_id)
    if parent is None:
        return
    summary = repo.children_summary(parent_id)
    result = {**(parent.result or {}), "children": summary.model_dump()}
    if summary.total and summary.completed == 0:
        error = {"type": "children_failed", "message": f"all {summary.total} children failed"}
        _move(session, parent, S.FAILED, settings, result=result, error=error, progress=100.0)
    else:
        _move(session, parent, S.SUCCEEDED, settings, result=result, progress=100.0)


def cancel(session: Session, job: Job, settings: Settings) -> Job:
    """Cancel in any state: queued and waiting at once, running cooperatively (then killed)."""
    status = JobStatus(job.status)
    if status == S.CANCELLED:
        return job
    if status in TERMINAL:
        raise Conflict(f"job {job.id} already {job.status}", code="job_finished")
    if status == S.RUNNING:
        if not job.cancel_requested:
            job.cancel_requested = True
            job.updated_at = utcnow()
            session.flush()
            emit(session, job, "job.updated")
        return job
    _move(session, job, S.CANCELLED, settings, cancel_requested=True)
    if status == S.WAITING:  # the parent first, so its last child ending does not finish it again
        for child in JobRepository(session).page(None, JobFilter(parent_id=job.id), limit=100_000):
            if JobStatus(child.status) not in TERMINAL:
                cancel(session, child, settings)
    return job


def retry(session: Session, job: Job, settings: Settings) -> Job:
    """Run a failed or cancelled job again under the same id."""
    if job.status not in (S.FAILED, S.CANCELLED) or job.meta.get("children"):
        raise Conflict(
            f"only a failed or cancelled job can be retried (this one is {job.status})",
            code="job_not_retryable",
        )
    _move(
        session,
        job,
        S.QUEUED,
        settings,
        error=None,
        result=None,
        cancel_requested=False,
        finished_at=None,
        expires_at=None,
        run_at=utcnow(),
        progress=0.0,
        progress_message=None,
        max_attempts=max(job.max_attempts, job.attempt + 1),
    )
    announce(session, job.queue)
    return job


# --- the worker's side ---------------------------------------------------------------------
def succeed_leased(
    session: Session,
    job_id: str,
    worker_id: str,
    attempt: int,
    settings: Settings,
    *,
    result: dict[str, Any],
    outputs: list[str],
) -> bool:
    """Record a successful attempt in one fenced UPDATE; False when the lease was lost meanwhile."""
    check_transition(S.RUNNING, S.SUCCEEDED)
    values = {
        "result": result,
        "outputs": outputs,
        "progress": 100.0,
        "progress_message": None,
        "error": None,
    }
    row = JobRepository(session).update_leased(
        job_id, worker_id, attempt, _changes(S.SUCCEEDED, settings, values)
    )
    if row is None:
        return False
    emit(session, row, "job.completed")
    _after_terminal(session, row, settings)
    return True


def succeed_leased_many(
    session: Session, worker_id: str, done: Sequence[tuple[str, int, dict[str, Any]]], settings: Settings
) -> list[str]:
    """``succeed_leased`` for many (job id, attempt, result) at once; the ids whose lease still held."""
    check_transition(S.RUNNING, S.SUCCEEDED)
    common = _changes(S.SUCCEEDED, settings, {"progress": 100.0, "progress_message": None, "error": None})
    each = [(job_id, attempt, {"result": result, "outputs": []}) for job_id, attempt, result in done]
    rows = JobRepository(session).update_leased_many(worker_id, common, each)
    # Parents are locked in one order by every worker, so two batches never wait on each other.
    for row in sorted(rows, key=lambda r: r.parent_id or ""):
        emit(session, row, "job.completed")
        _after_terminal(session, row, settings)
    return [row.id for row in rows]


def succeed(
    session: Session,
    job: Job,
    settings: Settings,
    *,
    result: dict[str, Any],
    outputs: list[str],
    children: list[ChildSpec],
    registry: Registry,
) -> None:
    """Record a finished attempt; with children the job waits for them instead."""
    if not children:
        _move(
            session,
            job,
            S.SUCCEEDED,
            settings,
            result=result,
            outputs=outputs,
            progress=100.0,
            progress_message=None,
            error=None,
        )
        return
    _move(
        session,
        job,
        S.WAITING,
        settings,
        result=result,
        outputs=outputs,
        lease_owner=None,
        lease_expires_at=None,
        meta={**job.meta, "children": len(children)},
    )
    for child in children:
        spec = JobCreate(type=child.type, params=child.params, inputs=child.inputs, queue=None)
        create(session, job.owner_id, spec, registry=registry, settings=settings, face=job.face, parent=job)


def fail_attempt(
    session: Session,
    job: Job,
    settings: Settings,
    *,
    error_type: str,
    message: str,
    retryable: bool,
    delay: float | None = None,
    cancelled: bool = False,
) -> None:
    """Record a failed attempt: back to the queue after a backoff, or failed (or cancelled) for good."""
    error = {"type": error_type, "message": message[:4000]}
    if cancelled:
        _move(session, job, S.CANCELLED, settings, error=None)
    elif retryable and job.attempt < job.max_attempts and not job.cancel_requested:
        run_at = utcnow() + timedelta(seconds=delay or 0.0)
        _move(
            session,
            job,
            S.QUEUED,
            settings,
            error=error,
            run_at=run_at,
            lease_owner=None,
            lease_expires_at=None,
        )
        announce(session, job.queue)
    else:
        _move(session, job, S.FAILED, settings, error=error)
        if retryable:  # our side gave up (crashes, lost workers, timeouts), not the caller's input
            refund_job(session, job.id, reason=f"failed: {error_type}")


def lease_expired(session: Session, job: Job, settings: Settings, delay: float) -> None:
    """A worker vanished mid-job: retry it (or fail it after the last attempt)."""
    fail_attempt(
        session,
        job,
        settings,
        error_type="worker_lost",
        message=f"lease expired at {job.lease_expires_at:%Y-%m-%dT%H:%M:%SZ} on {job.lease_owner}",
        retryable=True,
        delay=delay,
        cancelled=job.cancel_requested,
    )


def expire(session: Session, job: Job, settings: Settings) -> None:
    """Retention is over: the outputs are gone (the sweeper deleted them), the row stays."""
    _move(session, job, S.EXPIRED, settings, outputs=[])
