"""All SQL about jobs. Claiming is dialect-specific here and nowhere else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, Update, and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.jobs.models import Job
from mediaforge.jobs.schemas import ChildrenSummary, JobRow
from mediaforge.jobs.states import JobStatus

__all__ = ["JobFilter", "JobRepository"]

Q, R, W = JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.WAITING.value


@dataclass(frozen=True)
class JobFilter:
    """What a job listing may filter on."""

    status: Sequence[str] = ()
    type: str | None = None
    parent_id: str | None = None
    workflow_id: str | None = None
    queue: str | None = None
    face: str | None = None


class JobRepository:
    """Queries over ``jobs``; every method runs in the caller's session (its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- reads ---------------------------------------------------------------------------
    def get(self, job_id: str, *, owner_id: str | None = None, for_update: bool = False) -> Job | None:
        query = select(Job).where(Job.id == job_id)
        if owner_id is not None:
            query = query.where(Job.owner_id == owner_id)
        if for_update:
            query = query.with_for_update()
        return self.session.scalars(query).first()

    def by_idempotency_key(self, owner_id: str, key: str) -> Job | None:
        query = select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key)
        return self.session.scalars(query).first()

    def page(
        self, owner_id: str | None, flt: JobFilter, *, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[Job]:
        """Newest first, keyset-paginated on (created_at, id)."""
        query = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        if owner_id is not None:
            query = query.where(Job.owner_id == owner_id)
        if flt.status:
            query = query.where(Job.status.in_(list(flt.status)))
        for column, value in (
            (Job.type, flt.type),
            (Job.parent_id, flt.parent_id),
            (Job.workflow_id, flt.workflow_id),
            (Job.queue, flt.queue),
            (Job.face, flt.face),
        ):
            if value is not None:
                query = query.where(column == value)
        if before is not None:
            created, job_id = before
            query = query.where(
                or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id))
            )
        return list(self.session.scalars(query))

    def children_summary(self, parent_id: str) -> ChildrenSummary:
        """One GROUP BY over the children, so the buckets sum to the total by construction."""
        rows = self.session.execute(
            select(Job.status, func.count()).where(Job.parent_id == parent_id).group_by(Job.status)
        ).all()
        counts: dict[str, int] = {status: n for status, n in rows}
        bucket = {Q: "pending", R: "processing", W: "processing", JobStatus.SUCCEEDED.value: "completed"}
        summary = ChildrenSummary()
        for status, n in counts.items():
            summary.total += n
            name = bucket.get(status, "failed")
            setattr(summary, name, getattr(summary, name) + n)
        return summary

    def unfinished_children(self, parent_id: str) -> int:
        query = select(func.count()).where(Job.parent_id == parent_id, Job.status.in_([Q, R, W]))
        return int(self.session.scalar(query) or 0)

    def queue_position(self, job: JobRow) -> int:
        """How many queued jobs of the same queue run before this one (0 = next)."""
        ahead = or_(
            Job.priority > job.priority,
            and_(Job.priority == job.priority, Job.run_at < job.run_at),
            and_(Job.priority == job.priority, Job.run_at == job.run_at, Job.id < job.id),
        )
        query = select(func.count()).where(Job.status == Q, Job.queue == job.queue, ahead)
        return int(self.session.scalar(query) or 0)

    def queue_depths(self) -> dict[tuple[str, str], int]:
        rows = self.session.execute(
            select(Job.queue, Job.status, func.count())
            .where(Job.status.in_([Q, R, W]))
            .group_by(Job.queue, Job.status)
        ).all()
        return {(queue, status): n for queue, status, n in rows}

    def has_ready(self, queues: Sequence[str], types: Sequence[str], now: datetime) -> bool:
        """Whether a claim could find anything (a read: no write lock on SQLite)."""
        params = {"queues": list(queues), "types": list(types), "now": now, "limit": 1}
        return self.session.execute(_CLAIM_PICK, params).first() is not None

    # --- the engine's writes -------------------------------------------------------------
    def claim(
        self,
        *,
        worker_id: str,
        queues: Sequence[str],
        types: Sequence[str],
        limit: int,
        lease_seconds: float,
        now: datetime,
    ) -> list[JobRow]:
        """Lease up to ``limit`` runnable jobs (as rows), highest priority then oldest first.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent claimers pass each other.
        SQLite: both statements run under the write lock taken by ``BEGIN IMMEDIATE``.
        """
        postgres = self.session.get_bind().dialect.name == "postgresql"
        # Two statements, not UPDATE ... WHERE id IN (subquery): the planner may re-run a LIMITed
        # subquery per row, and a literal id list always reaches the rows by primary key.
        conn = self.session.connection()  # Core on the connection: no ORM bookkeeping on the hot path
        ids = list(
            conn.scalars(
                _CLAIM_PICK_PG if postgres else _CLAIM_PICK,
                {"queues": list(queues), "types": list(types), "now": now, "limit": limit},
            )
        )
        if not ids:
            return []
        if postgres:
            # A lease lost in a crash only sends the job back to the queue, and the fenced writes
            # reject the old attempt: this commit need not wait for the disk.
            conn.execute(_ASYNC_COMMIT)
        params = {
            "ids": ids,
            "owner": worker_id,
            "now": now,
            "expires": now + timedelta(seconds=lease_seconds),
        }
        claimed: list[JobRow] = list(conn.execute(_CLAIM_LEASE, params))
        claimed.sort(key=lambda j: (-j.priority, j.run_at, j.id))  # RETURNING keeps no order
        return claimed

    def update_leased(
        self, job_id: str, worker_id: str, attempt: int, values: dict[str, Any]
    ) -> JobRow | None:
        """Change a running job only while this worker's lease (and attempt) still holds it.

        The attempt number fences a worker whose lease expired and whose job was re-leased.
        Returns the updated row, or None when the fence did not hold.
        """
        values = {"updated_at": utcnow(), **values}
        params = {"k_id": job_id, "k_owner": worker_id, "k_attempt": attempt}
        params.update({f"v_{name}": value for name, value in values.items()})
        return self.session.connection().execute(_leased_update(tuple(sorted(values))), params).first()

    def heartbeat(
        self, worker_id: str, *, lease_seconds: float, now: datetime
    ) -> list[tuple[str, int, bool]]:
        """Extend every lease this worker holds; returns (id, attempt, cancel_requested) of each."""
        stmt = (
            update(Job)
            .where(Job.lease_owner == worker_id, Job.status == R)
            .values(lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now)
            .returning(Job.id, Job.attempt, Job.cancel_requested)
            .execution_options(synchronize_session=False)
        )
        return [(row[0], row[1], row[2]) for row in self.session.execute(stmt)]

    # --- the sweeper's reads -------------------------------------------------------------
    def expired_leases(self, now: datetime, limit: int = 500) -> list[Job]:
        query = select(Job).where(Job.status == R, Job.lease_expires_at < now).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list(self.session.scalars(query))

    def start_deadline_passed(self, now: datetime, limit: int = 500) -> list[Job]:
        query = select(Job).where(Job.status == Q, Job.cancel_after < now).limit(limit)
        return list(self.session.scalars(query))

    def results_expired(self, now: datetime, limit: int = 500) -> list[Job]:
        terminal = [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value]
        query = select(Job).where(Job.status.in_(terminal), Job.expires_at < now).limit(limit)
        return list(self.session.scalars(query))

    def counts_by_status(self, owner_id: str | None = None) -> dict[str, int]:
        query = select(Job.status, func.count()).group_by(Job.status)
        if owner_id is not None:
            query = query.where(Job.owner_id == owner_id)
        return {status: n for status, n in self.session.execute(query).all()}


_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
_JOBS: Table = Job.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
# The claim runs on every wake-up of every worker: its statements are built once, so each call
# only binds values (no per-call statement construction or cache-key generation).
_CLAIM_PICK = (
    select(Job.id)
    .where(
        Job.status == Q,
        Job.queue.in_(bindparam("queues", expanding=True)),
        Job.type.in_(bindparam("types", expanding=True)),
        Job.run_at <= bindparam("now"),
    )
    .order_by(Job.priority.desc(), Job.run_at)  # the claim index's own order: no sort step
    .limit(bindparam("limit"))
)
_CLAIM_PICK_PG = _CLAIM_PICK.with_for_update(skip_locked=True)
_CLAIM_LEASE = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(bindparam("ids", expanding=True)), _JOBS.c.status == Q)
    .values(
        status=R,
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("expires"),
        heartbeat_at=bindparam("now"),
        started_at=bindparam("now"),
        attempt=_JOBS.c.attempt + 1,
        updated_at=bindparam("now"),
        progress=0.0,
        progress_message=None,
    )
    .returning(*_JOBS.c)
)


@lru_cache(maxsize=64)
def _leased_update(names: tuple[str, ...]) -> Update:
    """A fenced UPDATE of ``names`` built once per column set (the worker's every write uses one)."""
    return (
        update(_JOBS)
        .where(
            _JOBS.c.id == bindparam("k_id"),
            _JOBS.c.status == R,
            _JOBS.c.lease_owner == bindparam("k_owner"),
            _JOBS.c.attempt == bindparam("k_attempt"),
        )
        .values({name: bindparam(f"v_{name}", type_=_JOBS.c[name].type) for name in names})
        .returning(*_JOBS.c)
    )
