"""All SQL about jobs. Claiming is dialect-specific here and nowhere else."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Connection, Table, Update, and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.jobs.models import Job
from mediaforge.jobs.schemas import ChildrenSummary, JobRow
from mediaforge.jobs.states import JobStatus

__all__ = ["JobFilter", "JobRepository", "claim_statement"]

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

    def has_unfinished_children(self, parent_id: str) -> bool:
        """Whether any child of ``parent_id`` is still queued, running or waiting (stops at the first)."""
        return self.session.execute(_UNFINISHED_CHILD, {"parent_id": parent_id}).first() is not None

    def lock_status(self, job_id: str) -> str | None:
        """Lock the row (``FOR UPDATE``; SQLite's write lock is already held) and return its status.

        Reads no other column: a batch parent's params and result hold its whole input list, which
        a full load would decode again on every child's completion.
        """
        return self.session.execute(_LOCK_STATUS, {"job_id": job_id}).scalar()

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
        lease_only: bool = True,
    ) -> list[JobRow]:
        """Lease up to ``limit`` runnable jobs (as rows), highest priority then oldest first.

        PostgreSQL: one ``UPDATE`` whose ids come from ``FOR UPDATE SKIP LOCKED`` (concurrent
        claimers pass each other); SQLite: both statements run under the write lock taken by
        ``BEGIN IMMEDIATE``. ``lease_only``: the transaction writes nothing else, so on PostgreSQL
        its commit need not wait for the disk (a lease lost in a crash only re-queues the job, and
        the fenced writes reject the old attempt).
        """
        if not queues:
            return []
        conn = self.session.connection()  # Core on the connection: no ORM bookkeeping on the hot path
        params = {
            "queues": list(queues),
            "types": list(types),
            "now": now,
            "limit": limit,
            "owner": worker_id,
            "expires": now + timedelta(seconds=lease_seconds),
        }
        if conn.dialect.name == "postgresql":
            driver = _driver(conn)
            if lease_only:
                driver.execute(_ASYNC_COMMIT_PG)
            params.update({f"q{i}": queue for i, queue in enumerate(queues)})
            claimed = _rows(driver.execute(claim_statement(len(queues)), params))
        else:
            # Two statements, not UPDATE ... WHERE id IN (subquery): the planner may re-run a
            # LIMITed subquery per row, and a literal id list always reaches the rows by primary key.
            ids = list(conn.scalars(_CLAIM_PICK, params))
            if not ids:
                return []
            claimed = list(conn.execute(_CLAIM_LEASE, {**params, "ids": ids}))
        claimed.sort(key=lambda j: (-j.priority, j.run_at, j.id))  # RETURNING keeps no order
        return claimed

    def update_leased(
        self, job_id: str, worker_id: str, attempt: int, values: dict[str, Any]
    ) -> JobRow | None:
        """Change a running job only while this worker's lease (and attempt) still holds it.

        The attempt number fences a worker whose lease expired and whose job was re-leased.
        Returns the updated row, or None when the fence did not hold.
        """
        rows = self.update_leased_many(worker_id, values, [(job_id, attempt, {})])
        return rows[0] if rows else None

    def update_leased_many(
        self, worker_id: str, common: dict[str, Any], each: Sequence[tuple[str, int, dict[str, Any]]]
    ) -> list[JobRow]:
        """``update_leased`` for many jobs at once: ``common`` values for all, plus each one's own.

        ``each`` holds (job id, attempt, values), every values dict with the same keys. Returns the
        rows whose fence held (in no particular order); on PostgreSQL this is one statement.
        """
        if not each:
            return []
        common = {"updated_at": utcnow(), **common}
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            fenced = [
                {"k_id": job_id, "k_attempt": attempt, "k_owner": worker_id, "k_status": R, **values}
                for job_id, attempt, values in each
            ]
            params = {f"v_{name}": _pg_value(name, value) for name, value in common.items()}
            params["k_rows"] = Jsonb(fenced)
            params["k_ids"] = [job_id for job_id, _, _ in each]
            statement = _leased_update_pg(tuple(sorted(common)), tuple(sorted(each[0][2])))
            return _rows(_driver(conn).execute(statement, params))
        found = []
        for job_id, attempt, values in each:
            merged = {**common, **values}
            params = {"k_id": job_id, "k_owner": worker_id, "k_attempt": attempt}
            params.update({f"v_{name}": value for name, value in merged.items()})
            found.append(conn.execute(_leased_update(tuple(sorted(merged))), params).first())
        return [row for row in found if row is not None]

    def heartbeat(
        self, worker_id: str, held: Sequence[tuple[str, int]], *, lease_seconds: float, now: datetime
    ) -> dict[str, bool]:
        """Extend the leases this worker still holds among ``held`` (job id, attempt).

        Returns ``{job id: cancel_requested}`` for each lease renewed; a job missing from it was lost.
        """
        values = {"lease_expires_at": now + timedelta(seconds=lease_seconds), "heartbeat_at": now}
        rows = self.update_leased_many(worker_id, values, [(job_id, attempt, {}) for job_id, attempt in held])
        return {row.id: row.cancel_requested for row in rows}

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
_LOCK_STATUS = select(Job.status).where(Job.id == bindparam("job_id")).with_for_update()
_UNFINISHED_CHILD = (
    select(Job.status).where(Job.parent_id == bindparam("parent_id"), Job.status.in_([Q, R, W])).limit(1)
)
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
_CLAIM_SET = {
    "status": R,
    "lease_owner": bindparam("owner"),
    "lease_expires_at": bindparam("expires"),
    "heartbeat_at": bindparam("now"),
    "started_at": bindparam("now"),
    "attempt": _JOBS.c.attempt + 1,
    "updated_at": bindparam("now"),
    "progress": 0.0,
    "progress_message": None,
}
_CLAIM_LEASE = (
    update(_JOBS)
    .where(_JOBS.c.id.in_(bindparam("ids", expanding=True)), _JOBS.c.status == Q)
    .values(_CLAIM_SET)
    .returning(*_JOBS.c)
)
# PostgreSQL's hot path runs on the driver connection (psycopg): SQLAlchemy's execution layers
# cost more CPU than the statements themselves. The connection's time zone is UTC (db.engine), so
# timestamps come back as the UTC-aware datetimes the ORM would give.
_ASYNC_COMMIT_PG = "SET LOCAL synchronous_commit = off"
_JSON_COLUMNS = frozenset(c.name for c in _JOBS.c if isinstance(c.type, JSON))
_RETURNING = ", ".join(f"jobs.{c.name}" for c in _JOBS.c)
_JobTuple = namedtuple("_JobTuple", [c.name for c in _JOBS.c])  # type: ignore[misc]  # built from the table


@lru_cache(maxsize=8)
def claim_statement(queues: int) -> str:
    """The PostgreSQL claim for ``queues`` queues (parameters ``q0``..., ``types``, ``now``, ...).

    ``id = ANY(ARRAY(subquery))`` runs the locking subquery once (an InitPlan), then reaches each
    row by primary key: one statement for the whole claim. The subquery locked the rows it picked
    as queued, so the UPDATE needs no status check of its own (which could steer the planner to the
    claim index and its dead entries). One queue is compared with ``=``: the claim index then
    yields rows in claim order, where ``= ANY(array)`` would make PostgreSQL sort every queued row.
    """
    names = [f"%(q{i})s" for i in range(queues)]
    queue = f"queue = {names[0]}" if queues == 1 else f"queue IN ({', '.join(names)})"
    return f"""
UPDATE jobs SET status = '{R}', lease_owner = %(owner)s, lease_expires_at = %(expires)s,
    heartbeat_at = %(now)s, started_at = %(now)s, attempt = attempt + 1, updated_at = %(now)s,
    progress = 0, progress_message = NULL
WHERE id = ANY(ARRAY(
    SELECT id FROM jobs
    WHERE status = '{Q}' AND {queue} AND type = ANY(%(types)s) AND run_at <= %(now)s
    ORDER BY priority DESC, run_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
))
RETURNING {_RETURNING}
"""


def _driver(conn: Connection) -> psycopg.Connection[Any]:
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


def _rows(cursor: psycopg.Cursor[Any]) -> list[JobRow]:
    """``RETURNING`` rows as named tuples with the attributes of a ``Row`` of ``jobs``.

    The columns are known, so ``cursor.description`` (which builds an object per column) is not
    asked for.
    """
    rows: list[Any] = [_JobTuple._make(values) for values in cursor]
    return rows


def _pg_value(name: str, value: Any) -> Any:
    return Jsonb(value) if value is not None and name in _JSON_COLUMNS else value


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


@lru_cache(maxsize=64)
def _leased_update_pg(common: tuple[str, ...], each: tuple[str, ...]) -> str:
    """The fenced UPDATE of many rows on PostgreSQL: ``common`` from parameters, ``each`` per row.

    The rows, fences included, arrive as one JSON array, and their ids once more as an array that
    the planner can count and look up by primary key. Comparing with fence values joined from the
    rows, not with literals, keeps it there: ``status = 'running'`` would let it scan the partial
    lease index, whose dead entries pile up while jobs stream through.
    """
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]  # the dialect class is untyped
    columns = "".join(f", {name} {_JOBS.c[name].type.compile(dialect=pg)}" for name in each)
    assignments = [f"{name} = %(v_{name})s" for name in common] + [f"{name} = d.{name}" for name in each]
    return (
        f"UPDATE jobs SET {', '.join(assignments)} FROM jsonb_to_recordset(%(k_rows)s)"
        f" AS d(k_id text, k_attempt integer, k_owner text, k_status text{columns})"
        " WHERE jobs.id = ANY(%(k_ids)s) AND jobs.id = d.k_id"
        " AND jobs.attempt = d.k_attempt AND jobs.lease_owner = d.k_owner AND jobs.status = d.k_status"
        f" RETURNING {_RETURNING}"
    )
