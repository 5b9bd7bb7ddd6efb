"""The fan-out: each outbox event becomes one delivery per target that wants it, exactly once.

A cursor row (``webhook_cursors``) marks how far the outbox has been fanned out. Reading the events
after it, inserting their deliveries and moving it happen in one transaction that holds the row
(PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite's ``BEGIN IMMEDIATE``), and event ids are assigned in
commit order, so no event is skipped and none is fanned out twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mediaforge.config import Settings
from mediaforge.events import repository as events
from mediaforge.events.models import Event
from mediaforge.webhooks import payloads, policy
from mediaforge.webhooks.models import Subscription, new_message_id
from mediaforge.webhooks.repository import EventHead, WebhookRepository
from mediaforge.webhooks.states import DeliveryStatus, Transport

__all__ = ["BATCH", "CURSOR", "Target", "delivery_row", "fan_out", "targets"]

CURSOR = "webhooks"
BATCH = 500

Target = tuple[Subscription | None, str | None]
"""Where one event goes: a subscription, or (None, a job's own ``webhook_url``)."""


def targets(session: Session, batch: Sequence[EventHead | Event], now: datetime) -> dict[int, list[Target]]:
    """Event id -> its targets: each active subscription of the event's owner whose filters match
    and that existed when the event was written, and the job's ``webhook_url`` if its filter matches."""
    repo = WebhookRepository(session)
    subscribers: dict[str, list[Subscription]] = defaultdict(list)
    for sub in repo.active_subscriptions({e.owner_id for e in batch}, now):
        subscribers[sub.owner_id].append(sub)
    hooks = repo.job_webhooks({e.job_id for e in batch if e.job_id})
    found: dict[int, list[Target]] = {}
    if not subscribers and not hooks:
        return found
    for event in batch:
        wanted: list[Target] = [
            (sub, None)
            for sub in subscribers.get(event.owner_id, ())
            if sub.created_at <= event.created_at
            and policy.event_matches(sub.event_types, event.type)
            and policy.job_matches(sub.job_ids, event.job_id, event.workflow_id)
        ]
        hook = hooks.get(event.job_id or "")
        if hook is not None and policy.event_matches(hook[1], event.type):
            wanted.append((None, hook[0]))
        if wanted:
            found[event.id] = wanted
    return found


def fan_out(session: Session, settings: Settings, now: datetime, *, checked: int = 0) -> tuple[int, int]:
    """Turn the next batch of events into deliveries and move the cursor past them, atomically.

    ``checked``: events up to this id are already known to need no delivery, so the cursor skips
    them unread. Returns (events read, deliveries created); (0, 0) when another process holds the
    cursor.
    """
    repo = WebhookRepository(session)
    position = repo.lock_cursor(CURSOR)
    if position is None:
        return 0, 0
    start = max(position, checked)
    batch = events.since(session, after_id=start, limit=BATCH)
    found = targets(session, batch, now) if batch else {}
    first = policy.parse_schedule(settings.webhook_schedule)[0]
    rows = [
        delivery_row(event, now, sub=sub, url=url, delay=first)
        for event in batch
        for sub, url in found.get(event.id, ())
    ]
    repo.add_deliveries(rows)
    last = batch[-1].id if batch else start
    if last > position:
        repo.advance_cursor(CURSOR, last, now)
    return len(batch), len(rows)


def delivery_row(
    event: Event, now: datetime, *, delay: float, sub: Subscription | None = None, url: str | None = None
) -> dict[str, Any]:
    """A new delivery of ``event`` to ``sub`` (or to a job's ``url``), due ``delay`` seconds from now."""
    payload = payloads.render(event, sub)
    return {
        "id": new_message_id(),
        "owner_id": event.owner_id,
        "subscription_id": sub.id if sub else None,
        "job_id": event.job_id,
        "target_url": sub.target_url if sub else url,
        "transport": sub.transport if sub else Transport.HTTP.value,
        "event_id": event.id,
        "event_type": event.type,
        "payload": payload,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "cycle_start": 0,
        "next_attempt_at": now + timedelta(seconds=delay),
        "lease_owner": None,
        "lease_expires_at": None,
        "last_status_code": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }
