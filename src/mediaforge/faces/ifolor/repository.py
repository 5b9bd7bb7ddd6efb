"""The face's own reads: jobs and subscriptions as Ifolor lists them (page numbers and totals).

The core lists with keyset cursors; Ifolor's contract asks for ``page`` / ``page_size`` and the
unpaged ``total``, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from mediaforge.jobs.models import Job
from mediaforge.webhooks.models import Subscription

__all__ = ["JobQuery", "jobs_page", "subscriptions_of"]


@dataclass(frozen=True)
class JobQuery:
    """A job listing's filters; ``statuses`` / ``types`` None means any, an empty list matches nothing."""

    owner_id: str | None
    statuses: Sequence[str] | None = None
    types: Sequence[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def jobs_page(session: Session, query: JobQuery, *, page: int, page_size: int) -> tuple[list[Job], int]:
    """One page of matching jobs, newest first, and how many match in all."""
    where = _conditions(query)
    total = int(session.scalar(select(func.count()).select_from(Job).where(*where)) or 0)
    rows = session.scalars(
        select(Job)
        .where(*where)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), total


def _conditions(query: JobQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.owner_id is not None:
        found.append(Job.owner_id == query.owner_id)
    if query.statuses is not None:
        found.append(Job.status.in_(list(query.statuses)))
    if query.types is not None:
        found.append(Job.type.in_(list(query.types)))
    if query.created_after is not None:
        found.append(Job.created_at > query.created_after)
    if query.created_before is not None:
        found.append(Job.created_at < query.created_before)
    return found


def subscriptions_of(session: Session, owner_id: str | None, face: str) -> list[Subscription]:
    """Every subscription this face made for the owner (None = every owner's), newest first.

    A tenant holds a handful; filters on their JSON lists run on these rows, the same on every
    database.
    """
    statement = select(Subscription).where(Subscription.face == face)
    if owner_id is not None:
        statement = statement.where(Subscription.owner_id == owner_id)
    statement = statement.order_by(Subscription.created_at.desc(), Subscription.id.desc())
    return list(session.scalars(statement))
