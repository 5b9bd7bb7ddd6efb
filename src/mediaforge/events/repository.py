"""Outbox writes and reads; the event delivery issue builds its channels on these rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.events.models import Event

__all__ = ["append", "append_many", "since"]


def append(
    session: Session,
    type: str,
    *,
    owner_id: str,
    payload: dict[str, Any],
    job_id: str | None = None,
    workflow_id: str | None = None,
) -> None:
    """Write one event in the caller's transaction (a Core insert: no unit-of-work bookkeeping)."""
    session.connection().execute(
        _INSERT,
        {
            "type": type,
            "owner_id": owner_id,
            "job_id": job_id,
            "workflow_id": workflow_id,
            "payload": payload,
            "created_at": utcnow(),
        },
    )


def append_many(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write several events in one statement (``rows`` hold Event column values)."""
    if rows:
        now = utcnow()
        session.connection().execute(_INSERT, [{"created_at": now, **row} for row in rows])


def since(
    session: Session,
    *,
    after_id: int = 0,
    owner_id: str | None = None,
    job_id: str | None = None,
    workflow_id: str | None = None,
    limit: int = 1000,
) -> list[Event]:
    """Events with id greater than ``after_id``, oldest first, optionally filtered."""
    query = select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit)
    if owner_id is not None:
        query = query.where(Event.owner_id == owner_id)
    if job_id is not None:
        query = query.where(Event.job_id == job_id)
    if workflow_id is not None:
        query = query.where(Event.workflow_id == workflow_id)
    return list(session.scalars(query))


_INSERT = insert(Event)
