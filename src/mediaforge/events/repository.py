"""The outbox: events are written at commit time, in commit order, then announced.

Rows appended during a unit of work are held on the session and inserted just before it commits.
On PostgreSQL that insert takes a transaction-scoped advisory lock, so event ids are assigned in
commit order: a reader that follows ids (SSE ``Last-Event-ID``, the webhook fan-out cursor) can
never see id N+1 while N is still invisible. SQLite's single writer gives the same order. After the
commit, the last id is announced: ``NOTIFY mediaforge_events`` on PostgreSQL and the in-process
listeners registered with ``on_commit``.

The lock serialises every commit that writes events, so it is held as briefly as possible: one
statement takes it, inserts the rows and sends the ``NOTIFY``, and the ``COMMIT`` travels in the
same network round trip (psycopg pipeline mode), so no lock holder ever waits on its client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Connection, event, func, insert, or_, select
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.db.engine import after_commit
from mediaforge.events.models import Event

__all__ = ["CHANNEL", "append", "last_id", "off_commit", "on_commit", "since"]

CHANNEL = "mediaforge_events"
_PENDING = "mediaforge_outbox"
_LOCK = 0x6D66_6576  # "mfev": the outbox's advisory lock key
_INSERT = insert(Event).returning(Event.id, sort_by_parameter_order=True)
# Lock, insert (ids in the order appended) and notify as one statement; the caller commits at once.
_PG_WRITE = f"""
WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock({_LOCK})),
written AS (
    INSERT INTO events (type, owner_id, job_id, workflow_id, payload, created_at)
    SELECT e.type, e.owner_id, e.job_id, e.workflow_id, e.payload, %(now)s
    FROM lock, ROWS FROM (
        jsonb_to_recordset(%(rows)s::jsonb)
        AS (type text, owner_id text, job_id text, workflow_id text, payload jsonb)
    ) WITH ORDINALITY AS e(type, owner_id, job_id, workflow_id, payload, n)
    ORDER BY e.n
    RETURNING id
)
SELECT max(id), pg_notify('{CHANNEL}', max(id)::text) FROM written
"""
_listeners: list[Callable[[int], None]] = []


def append(
    session: Session,
    type: str,
    *,
    owner_id: str,
    payload: dict[str, Any],
    job_id: str | None = None,
    workflow_id: str | None = None,
) -> None:
    """Add one event to the caller's unit of work; it is written when that commits."""
    row = {
        "type": type,
        "owner_id": owner_id,
        "job_id": job_id,
        "workflow_id": workflow_id,
        "payload": payload,
    }
    session.info.setdefault(_PENDING, []).append(row)


def on_commit(listener: Callable[[int], None]) -> None:
    """Call ``listener(last_event_id)`` after every commit that wrote events (in this process)."""
    _listeners.append(listener)


def off_commit(listener: Callable[[int], None]) -> None:
    """Stop calling ``listener`` (a no-op if it is not registered)."""
    if listener in _listeners:
        _listeners.remove(listener)


def last_id(session: Session) -> int:
    """The highest event id written so far (0 for none)."""
    return int(session.scalar(select(func.max(Event.id))) or 0)


def since(
    session: Session,
    *,
    after_id: int = 0,
    owner_id: str | None = None,
    job_id: str | None = None,
    workflow_id: str | None = None,
    job_ids: Collection[str] | None = None,
    types: Collection[str] | None = None,
    limit: int = 1000,
) -> list[Event]:
    """Events with id greater than ``after_id``, oldest first, optionally filtered.

    ``types`` holds exact names and ``prefix.*`` patterns (see ``events.types.matches``).
    """
    query = select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit)
    if owner_id is not None:
        query = query.where(Event.owner_id == owner_id)
    if job_id is not None:
        query = query.where(Event.job_id == job_id)
    if workflow_id is not None:
        query = query.where(Event.workflow_id == workflow_id)
    if job_ids is not None:
        query = query.where(Event.job_id.in_(list(job_ids)))
    if types is not None and "*" not in types:
        exact = [t for t in types if not t.endswith(".*")]
        prefixes = [t[:-1] for t in types if t.endswith(".*")]
        query = query.where(or_(Event.type.in_(exact), *(Event.type.startswith(p) for p in prefixes)))
    return list(session.scalars(query))


@event.listens_for(Session, "before_commit")
def _write_outbox(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the events wait for the real commit
    rows = session.info.pop(_PENDING, None)
    if not rows:
        return
    session.flush()  # nothing of this unit of work may reach the database after the events
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        last = _write_and_commit(conn, rows)
    else:
        now = utcnow()
        last = max(conn.scalars(_INSERT, [{**row, "created_at": now} for row in rows]))
    after_commit(session, lambda: _announce(last))


def _write_and_commit(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Write ``rows`` under the outbox lock and commit in one round trip; the last id written.

    The session's own commit that follows finds the transaction already committed (a no-op).
    """
    driver = conn.connection.driver_connection
    assert driver is not None
    params = {"now": utcnow(), "rows": json.dumps(rows, separators=(",", ":"))}
    with driver.pipeline():
        cursor = driver.execute(_PG_WRITE, params)
        driver.commit()
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])


@event.listens_for(Session, "after_rollback")
def _drop_outbox(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _announce(last: int) -> None:
    for listener in _listeners:
        listener(last)
