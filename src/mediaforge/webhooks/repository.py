"""All SQL about webhooks. Claiming is dialect-specific here and nowhere else."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediaforge.events.models import Event
from mediaforge.jobs.models import Job
from mediaforge.webhooks.models import Attempt, Cursor, Delivery, Subscription
from mediaforge.webhooks.states import DeliveryStatus

__all__ = ["EventHead", "WebhookRepository"]

P, D = DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value


@dataclass(frozen=True, slots=True)
class EventHead:
    """An outbox event without its payload: all that deciding where it goes needs."""

    id: int
    type: str
    owner_id: str
    job_id: str | None
    workflow_id: str | None
    created_at: datetime


class WebhookRepository:
    """Queries over the webhook tables; every method runs in the caller's session (its transaction)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # --- subscriptions -------------------------------------------------------------------
    def subscription(self, subscription_id: str, *, owner_id: str | None = None) -> Subscription | None:
        query = select(Subscription).where(Subscription.id == subscription_id)
        if owner_id is not None:
            query = query.where(Subscription.owner_id == owner_id)
        return self.session.scalars(query).first()

    def subscriptions_page(
        self, owner_id: str | None, *, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[Subscription]:
        """Newest first, keyset-paginated on (created_at, id); ``owner_id`` None = every owner's."""
        query = (
            select(Subscription).order_by(Subscription.created_at.desc(), Subscription.id.desc()).limit(limit)
        )
        if owner_id is not None:
            query = query.where(Subscription.owner_id == owner_id)
        if before is not None:
            created, sub_id = before
            query = query.where(
                or_(
                    Subscription.created_at < created,
                    and_(Subscription.created_at == created, Subscription.id < sub_id),
                )
            )
        return list(self.session.scalars(query))

    def active_subscriptions(self, owner_ids: Collection[str], now: datetime) -> list[Subscription]:
        """The owners' subscriptions that are on and not expired."""
        query = select(Subscription).where(
            Subscription.owner_id.in_(list(owner_ids)),
            Subscription.is_active.is_(True),
            or_(Subscription.expires_at.is_(None), Subscription.expires_at > now),
        )
        return list(self.session.scalars(query))

    def subscriptions_by_id(self, ids: Collection[str]) -> dict[str, Subscription]:
        if not ids:
            return {}
        rows = self.session.scalars(select(Subscription).where(Subscription.id.in_(list(ids))))
        return {sub.id: sub for sub in rows}

    def count_failure(self, subscription_id: str, now: datetime) -> int:
        """Add one consecutive failure; returns the new count (0 when the subscription is gone)."""
        stmt = (
            update(Subscription)
            .where(Subscription.id == subscription_id)
            .values(consecutive_failures=Subscription.consecutive_failures + 1, updated_at=now)
            .returning(Subscription.consecutive_failures)
            .execution_options(synchronize_session=False)
        )
        return int(self.session.execute(stmt).scalar() or 0)

    def reset_failures(self, subscription_id: str, now: datetime) -> None:
        self.session.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id, Subscription.consecutive_failures != 0)
            .values(consecutive_failures=0, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    def disable(self, subscription_id: str, reason: str, now: datetime) -> bool:
        """Switch an active subscription off with ``reason``; False when it already was off."""
        stmt = (
            update(Subscription)
            .where(Subscription.id == subscription_id, Subscription.is_active.is_(True))
            .values(is_active=False, disabled_reason=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]  # CursorResult

    # --- jobs' own webhook_url -----------------------------------------------------------
    def job_webhooks(self, job_ids: Collection[str]) -> dict[str, tuple[str, list[str] | None]]:
        """``{job_id: (webhook_url, event filter or None)}`` for the given jobs that have one."""
        if not job_ids:
            return {}
        rows = self.session.execute(
            select(Job.id, Job.webhook_url, Job.meta).where(
                Job.id.in_(list(job_ids)), Job.webhook_url.is_not(None)
            )
        )
        return {job_id: (url, (meta or {}).get("webhook_events")) for job_id, url, meta in rows}

    def event_heads(self, *, after_id: int, limit: int) -> list[EventHead]:
        """Events after ``after_id``, oldest first, without their payloads."""
        query = (
            select(Event.id, Event.type, Event.owner_id, Event.job_id, Event.workflow_id, Event.created_at)
            .where(Event.id > after_id)
            .order_by(Event.id)
            .limit(limit)
        )
        return [EventHead(*row) for row in self.session.execute(query)]

    # --- the fan-out cursor --------------------------------------------------------------
    def cursor(self, name: str) -> int:
        """Where the reader ``name`` stands (0 before it ever ran); a plain read."""
        return int(self.session.scalar(select(Cursor.last_event_id).where(Cursor.name == name)) or 0)

    def lock_cursor(self, name: str) -> int | None:
        """Take the reader's cursor for this transaction; None when another process holds it.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` on the row. SQLite: ``BEGIN IMMEDIATE`` already
        serialized this transaction against every other writer.
        """
        query = select(Cursor.last_event_id).where(Cursor.name == name)
        position = self.session.scalar(query.with_for_update(skip_locked=True) if self._postgres else query)
        if position is not None:
            return int(position)
        if self.session.scalar(query) is not None:
            return None  # the row exists: another fan-out holds it
        try:
            with self.session.begin_nested():
                self.session.execute(insert(Cursor).values(name=name, last_event_id=0))
        except IntegrityError:
            return None
        return 0

    def advance_cursor(self, name: str, last_event_id: int, now: datetime) -> None:
        self.session.execute(
            update(Cursor)
            .where(Cursor.name == name)
            .values(last_event_id=last_event_id, updated_at=now)
            .execution_options(synchronize_session=False)
        )

    # --- deliveries ----------------------------------------------------------------------
    def delivery(self, delivery_id: str, *, owner_id: str | None = None) -> Delivery | None:
        query = select(Delivery).where(Delivery.id == delivery_id)
        if owner_id is not None:
            query = query.where(Delivery.owner_id == owner_id)
        return self.session.scalars(query).first()

    def deliveries_page(
        self,
        owner_id: str | None,
        *,
        subscription_id: str | None = None,
        job_id: str | None = None,
        status: Collection[str] = (),
        limit: int,
        before: tuple[datetime, str] | None = None,
    ) -> list[Delivery]:
        """Newest first, keyset-paginated on (created_at, id); ``owner_id`` None = every owner's."""
        query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)
        if owner_id is not None:
            query = query.where(Delivery.owner_id == owner_id)
        if subscription_id is not None:
            query = query.where(Delivery.subscription_id == subscription_id)
        if job_id is not None:
            query = query.where(Delivery.job_id == job_id)
        if status:
            query = query.where(Delivery.status.in_(list(status)))
        if before is not None:
            created, delivery_id = before
            query = query.where(
                or_(
                    Delivery.created_at < created,
                    and_(Delivery.created_at == created, Delivery.id < delivery_id),
                )
            )
        return list(self.session.scalars(query))

    def deliveries_for_events(self, subscription_id: str, event_ids: Collection[int]) -> dict[int, Delivery]:
        if not event_ids:
            return {}
        query = select(Delivery).where(
            Delivery.subscription_id == subscription_id, Delivery.event_id.in_(list(event_ids))
        )
        return {d.event_id: d for d in self.session.scalars(query)}

    def attempts(self, delivery_id: str) -> list[Attempt]:
        query = select(Attempt).where(Attempt.delivery_id == delivery_id).order_by(Attempt.id)
        return list(self.session.scalars(query))

    def add_deliveries(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(Delivery), rows)

    def add_attempts(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if rows:
            self.session.execute(insert(Attempt), rows)

    def has_due(self, now: datetime) -> bool:
        """Whether a claim could find anything (a read: no write lock on SQLite)."""
        return self.session.execute(_PICK, {"now": now, "limit": 1}).first() is not None

    def claim(
        self, *, owner: str, limit: int, lease_seconds: float, now: datetime
    ) -> list[tuple[Row[Any], str]]:
        """Lease up to ``limit`` due deliveries: pending ones, and leased ones whose lease expired.

        Returns each leased row with the status it had (``delivering`` means a lost lease). The lease's
        end becomes ``next_attempt_at``, so an abandoned delivery is due again exactly then.
        """
        conn = self.session.connection()
        picked = {
            row.id: row.status
            for row in conn.execute(_PICK_PG if self._postgres else _PICK, {"now": now, "limit": limit})
        }
        if not picked:
            return []
        expires = now + timedelta(seconds=lease_seconds)
        params = {"ids": list(picked), "owner": owner, "now": now, "expires": expires}
        return [(row, picked[row.id]) for row in conn.execute(_LEASE, params)]

    def finish(self, delivery_id: str, owner: str, attempt: int, values: dict[str, Any]) -> bool:
        """Write an attempt's outcome only while this dispatcher's lease (and attempt) still holds it."""
        stmt = (
            update(Delivery)
            .where(
                Delivery.id == delivery_id,
                Delivery.status == D,
                Delivery.lease_owner == owner,
                Delivery.attempts == attempt,
            )
            .values(lease_owner=None, lease_expires_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]  # CursorResult

    def kill_pending(self, subscription_id: str, reason: str, now: datetime) -> int:
        """Mark a stopped subscription's waiting deliveries dead (a replay can revive them)."""
        stmt = (
            update(Delivery)
            .where(Delivery.subscription_id == subscription_id, Delivery.status == P)
            .values(status=DeliveryStatus.DEAD.value, last_error=reason, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(self.session.execute(stmt).rowcount)  # type: ignore[attr-defined]  # CursorResult


_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
_PICK = (
    select(_DELIVERIES.c.id, _DELIVERIES.c.status)
    .where(_DELIVERIES.c.status.in_([P, D]), _DELIVERIES.c.next_attempt_at <= bindparam("now"))
    .order_by(_DELIVERIES.c.next_attempt_at)
    .limit(bindparam("limit"))
)
_PICK_PG = _PICK.with_for_update(skip_locked=True)
_LEASE = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id.in_(bindparam("ids", expanding=True)),
        _DELIVERIES.c.status.in_([P, D]),
        _DELIVERIES.c.next_attempt_at <= bindparam("now"),
    )
    .values(
        status=D,
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("expires"),
        next_attempt_at=bindparam("expires"),
        attempts=_DELIVERIES.c.attempts + 1,
        updated_at=bindparam("now"),
    )
    .returning(*_DELIVERIES.c)
)
