"""SQL about worker registrations."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.workers.models import Worker

__all__ = ["any_can_run", "heartbeat", "live", "mark_lost", "register", "stop"]

STALE_AFTER = timedelta(seconds=60)


def register(session: Session, worker: Worker) -> None:
    session.merge(worker)


def heartbeat(session: Session, worker_id: str, *, running: int, processed: int, failed: int) -> None:
    session.execute(
        update(Worker)
        .where(Worker.id == worker_id)
        .values(heartbeat_at=utcnow(), running=running, processed=processed, failed=failed, status="active")
    )


def stop(session: Session, worker_id: str, status: str = "stopped") -> None:
    now = utcnow()
    session.execute(
        update(Worker).where(Worker.id == worker_id).values(status=status, stopped_at=now, running=0)
    )


def live(session: Session, now: datetime | None = None) -> list[Worker]:
    """Workers whose heartbeat is recent."""
    since = (now or utcnow()) - STALE_AFTER
    query = select(Worker).where(Worker.heartbeat_at >= since, Worker.status.in_(["active", "draining"]))
    return list(session.scalars(query))


def any_can_run(session: Session, job_type: str, queue: str) -> bool:
    """Whether a live worker serves ``queue`` and can run ``job_type``."""
    return any(queue in w.queues and job_type in w.processors for w in live(session))


def mark_lost(session: Session, now: datetime) -> int:
    """Workers that stopped heart-beating without saying goodbye."""
    result = session.execute(
        update(Worker)
        .where(Worker.status == "active", Worker.heartbeat_at < now - STALE_AFTER)
        .values(status="lost", stopped_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)
