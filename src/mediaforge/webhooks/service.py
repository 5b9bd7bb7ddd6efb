"""The rules of subscriptions and deliveries as their owners manage them: create, change, rotate,
read, replay. Services never commit: the caller's unit of work does.

The machinery lives beside it: ``fanout`` turns events into deliveries, ``claims`` leases and
records attempts, ``dispatcher`` runs both, ``transport`` sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediaforge.config import Settings
from mediaforge.errors import Conflict, NotFound
from mediaforge.events.models import Event
from mediaforge.webhooks import policy, signing
from mediaforge.webhooks.fanout import delivery_row
from mediaforge.webhooks.models import Delivery, Subscription
from mediaforge.webhooks.repository import WebhookRepository
from mediaforge.webhooks.schemas import (
    AttemptView,
    DeliveryView,
    ReplayRange,
    ReplayResult,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionUpdate,
    SubscriptionView,
)
from mediaforge.webhooks.states import TERMINAL, DeliveryStatus, Transport
from mediaforge.webhooks.transport import check_target

__all__ = [
    "create",
    "delete",
    "delivery_view",
    "get",
    "get_delivery",
    "job_secret",
    "replay_delivery",
    "replay_range",
    "rotate_secret",
    "signing_secrets",
    "update",
    "view",
]

_REPLAY_MAX = 10_000
S = DeliveryStatus


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class DeliveryNotFound(NotFound):
    code = "delivery_not_found"


# --- subscriptions -------------------------------------------------------------------------
def get(session: Session, subscription_id: str, owner_id: str | None) -> Subscription:
    """The owner's subscription (None = any owner's); another owner's is a 404."""
    sub = WebhookRepository(session).subscription(subscription_id, owner_id=owner_id)
    if sub is None:
        raise SubscriptionNotFound(f"subscription {subscription_id} not found")
    return sub


def create(
    session: Session,
    owner_id: str,
    spec: SubscriptionCreate,
    *,
    settings: Settings,
    now: datetime,
    face: str = "native",
    secret: str | None = None,
) -> tuple[Subscription, str]:
    """A new subscription after the SSRF guard accepted its target; returns it with its secret.

    ``face``: the API face creating it (its deliveries carry that face's payload). ``secret``: a
    ``whsec_`` secret the face derived under its own contract's rules, used instead of ``spec.secret``.
    """
    check_target(spec.target_url, spec.transport, settings.allow_hosts)
    secret = secret or spec.secret or signing.new_secret()
    expires_at = spec.expires_at
    if spec.ttl_seconds is not None:
        expires_at = now + timedelta(seconds=spec.ttl_seconds)
    sub = Subscription(
        owner_id=owner_id,
        face=face,
        target_url=spec.target_url.strip(),
        transport=spec.transport.value,
        event_types=list(spec.event_types),
        job_ids=list(spec.job_ids),
        secrets=[_secret_entry(secret, now)],
        description=spec.description,
        is_active=spec.is_active,
        consecutive_failures=0,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    session.flush()
    return sub, secret


def update(
    session: Session, sub: Subscription, spec: SubscriptionUpdate, *, settings: Settings, now: datetime
) -> Subscription:
    """Apply the fields the caller sent; a changed target passes the SSRF guard again."""
    sent = spec.model_fields_set
    transport = spec.transport or Transport(sub.transport)
    target = spec.target_url if spec.target_url is not None else sub.target_url
    if spec.target_url is not None or spec.transport is not None:
        check_target(target, transport, settings.allow_hosts)
        sub.target_url, sub.transport = target.strip(), transport.value
    if spec.event_types is not None:
        sub.event_types = list(spec.event_types)
    if spec.job_ids is not None:
        sub.job_ids = list(spec.job_ids)
    if "description" in sent:
        sub.description = spec.description
    if spec.ttl_seconds is not None:
        sub.expires_at = now + timedelta(seconds=spec.ttl_seconds)
    elif "expires_at" in sent:
        sub.expires_at = spec.expires_at
    if spec.is_active is True and not sub.is_active:
        sub.is_active, sub.disabled_reason, sub.consecutive_failures = True, None, 0
    elif spec.is_active is False and sub.is_active:
        sub.is_active, sub.disabled_reason = False, "disabled by its owner"
        WebhookRepository(session).kill_pending(sub.id, "subscription disabled by its owner", now)
    sub.updated_at = now
    session.flush()
    return sub


def delete(session: Session, sub: Subscription) -> None:
    """Remove the subscription with its deliveries and their attempts."""
    session.delete(sub)
    session.flush()


def rotate_secret(
    session: Session, sub: Subscription, spec: SecretRotation, *, now: datetime
) -> tuple[Subscription, str]:
    """Sign with a new secret from now on; the previous one keeps signing for a grace period."""
    secret = spec.secret or signing.new_secret()
    grace_end = now + timedelta(seconds=spec.previous_expires_in_seconds)
    kept = []
    for entry in _live_secrets(sub, now):
        ends = _expiry(entry)
        ends = grace_end if ends is None else min(ends, grace_end)
        if ends > now:
            kept.append({**entry, "expires_at": ends.isoformat()})
    sub.secrets = [_secret_entry(secret, now), *kept[:2]]  # at most three secrets sign at once
    sub.updated_at = now
    session.flush()
    return sub, secret


def view(sub: Subscription, now: datetime) -> SubscriptionView:
    status: Literal["active", "disabled", "expired"] = "active"
    if not sub.is_active:
        status = "disabled"
    elif sub.expires_at is not None and sub.expires_at <= now:
        status = "expired"
    return SubscriptionView(
        id=sub.id,
        target_url=sub.target_url,
        transport=Transport(sub.transport),
        event_types=sub.event_types,
        job_ids=sub.job_ids,
        description=sub.description,
        is_active=sub.is_active,
        status=status,
        disabled_reason=sub.disabled_reason,
        consecutive_failures=sub.consecutive_failures,
        expires_at=sub.expires_at,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def job_secret(settings: Settings, owner_id: str) -> str:
    """The secret signing deliveries to jobs' own ``webhook_url``: derived per owner from the
    deployment's signing key, so every process computes the same one and none is stored."""
    key = hmac.new(settings.signing_key(), f"webhooks:{owner_id}".encode(), hashlib.sha256).digest()
    return signing.PREFIX + base64.b64encode(key).decode()


def _secret_entry(secret: str, now: datetime) -> dict[str, Any]:
    return {"secret": secret, "created_at": now.isoformat(), "expires_at": None}


def _expiry(entry: dict[str, Any]) -> datetime | None:
    value = entry.get("expires_at")
    return datetime.fromisoformat(value) if value else None


def _live_secrets(sub: Subscription, now: datetime) -> list[dict[str, Any]]:
    return [e for e in sub.secrets if (ends := _expiry(e)) is None or ends > now]


def signing_secrets(sub: Subscription, now: datetime) -> list[str]:
    """The secrets that sign the subscription's messages now, newest first."""
    return [entry["secret"] for entry in _live_secrets(sub, now)]


# --- deliveries ----------------------------------------------------------------------------
def get_delivery(session: Session, delivery_id: str, owner_id: str | None) -> Delivery:
    delivery = WebhookRepository(session).delivery(delivery_id, owner_id=owner_id)
    if delivery is None:
        raise DeliveryNotFound(f"delivery {delivery_id} not found")
    return delivery


def delivery_view(session: Session, delivery: Delivery, *, detail: bool = False) -> DeliveryView:
    log = None
    if detail:
        log = [
            AttemptView(
                attempt=a.attempt,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                response_snippet=a.response_snippet,
                error=a.error,
                at=a.at,
            )
            for a in WebhookRepository(session).attempts(delivery.id)
        ]
    return DeliveryView(
        id=delivery.id,
        subscription_id=delivery.subscription_id,
        job_id=delivery.job_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        target_url=delivery.target_url,
        transport=Transport(delivery.transport),
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == S.PENDING else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        payload=delivery.payload,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        attempt_log=log,
    )


def replay_delivery(session: Session, delivery: Delivery, *, now: datetime) -> Delivery:
    """Send a delivery again now, under the same ``webhook-id``, with a fresh retry schedule."""
    if delivery.subscription_id is not None:
        sub = WebhookRepository(session).subscription(delivery.subscription_id)
        if sub is not None:
            _require_running(sub, now)
    if delivery.status == S.DELIVERING:
        return delivery  # being sent right now
    _requeue(delivery, now)
    session.flush()
    return delivery


def replay_range(session: Session, sub: Subscription, spec: ReplayRange, *, now: datetime) -> ReplayResult:
    """Send the subscription's matching events in the range again (missing ones are created)."""
    _require_running(sub, now)
    repo = WebhookRepository(session)
    query = select(Event).where(Event.owner_id == sub.owner_id).order_by(Event.id).limit(_REPLAY_MAX + 1)
    if spec.from_event_id is not None:
        query = query.where(Event.id >= spec.from_event_id)
    if spec.to_event_id is not None:
        query = query.where(Event.id <= spec.to_event_id)
    if spec.since is not None:
        query = query.where(Event.created_at >= spec.since)
    if spec.until is not None:
        query = query.where(Event.created_at <= spec.until)
    found = list(session.scalars(query))
    more = len(found) > _REPLAY_MAX
    found = found[:_REPLAY_MAX]
    wanted = [
        e
        for e in found
        if policy.event_matches(sub.event_types, e.type)
        and policy.job_matches(sub.job_ids, e.job_id, e.workflow_id)
    ]
    existing = repo.deliveries_for_events(sub.id, [e.id for e in wanted])
    requeued, new_rows = 0, []
    for event in wanted:
        delivery = existing.get(event.id)
        if delivery is None:
            new_rows.append(delivery_row(event, now, sub=sub, delay=0.0))
        elif delivery.status in TERMINAL and not (spec.only_failed and delivery.status == S.SUCCEEDED):
            _requeue(delivery, now)
            requeued += 1
    repo.add_deliveries(new_rows)
    session.flush()
    return ReplayResult(
        requeued=requeued, created=len(new_rows), last_event_id=found[-1].id if found else None, more=more
    )


def _require_running(sub: Subscription, now: datetime) -> None:
    if not sub.is_active:
        raise Conflict(
            "the subscription is disabled; enable it before replaying", code="subscription_inactive"
        )
    if sub.expires_at is not None and sub.expires_at <= now:
        raise Conflict(
            "the subscription has expired; extend it before replaying", code="subscription_inactive"
        )


def _requeue(delivery: Delivery, now: datetime) -> None:
    delivery.status = S.PENDING.value
    delivery.next_attempt_at = now
    delivery.cycle_start = delivery.attempts
    delivery.last_error = None
    delivery.updated_at = now
