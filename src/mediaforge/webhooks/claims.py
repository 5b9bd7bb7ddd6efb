"""Claiming due deliveries and recording what each attempt brought back.

A claim leases deliveries (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) so the send can happen outside
any transaction; ``record`` writes the outcome only while that lease still holds. A delivery whose
lease ran out is claimed again, by any dispatcher, under the same ``webhook-id``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mediaforge.config import Settings
from mediaforge.webhooks import policy
from mediaforge.webhooks.models import Subscription
from mediaforge.webhooks.repository import WebhookRepository
from mediaforge.webhooks.service import job_secret, signing_secrets
from mediaforge.webhooks.states import DeliveryStatus, Transport
from mediaforge.webhooks.transport import Message, Sent

__all__ = ["Claim", "claim", "record"]

S = DeliveryStatus


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery this dispatcher holds the lease of, ready to send."""

    id: str
    attempt: int
    cycle_start: int
    subscription_id: str | None
    message: Message


def claim(session: Session, settings: Settings, *, owner: str, limit: int, now: datetime) -> list[Claim]:
    """Lease due deliveries and build their messages; those whose subscription stopped die here.

    A delivery found still leased lost its dispatcher mid-send: that attempt is logged as such and
    the delivery is sent again under the same ``webhook-id``.
    """
    repo = WebhookRepository(session)
    lease = settings.webhook_timeout_seconds + settings.lease_seconds
    rows = repo.claim(owner=owner, limit=limit, lease_seconds=lease, now=now)
    if not rows:
        return []
    lost = "lease expired: the dispatcher sending it stopped before recording an answer"
    repo.add_attempts(
        {"delivery_id": row.id, "attempt": row.attempts - 1, "error": lost, "at": now}
        for row, was in rows
        if was == S.DELIVERING
    )
    subs = repo.subscriptions_by_id({row.subscription_id for row, _ in rows if row.subscription_id})
    claims = []
    for row, _ in rows:
        sub = subs.get(row.subscription_id) if row.subscription_id else None
        if row.subscription_id and sub is None:
            continue  # deleted meanwhile; its deliveries went with it
        if sub is not None:
            stopped = _stopped(sub, now)
            if stopped:
                repo.finish(row.id, owner, row.attempts, _dead(stopped, now, row.attempts - 1))
                continue
            url, transport, secrets = (
                sub.target_url,
                Transport(sub.transport),
                signing_secrets(sub, now),
            )
        else:
            url, transport, secrets = row.target_url, Transport.HTTP, [job_secret(settings, row.owner_id)]
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        claims.append(
            Claim(
                id=row.id,
                attempt=row.attempts,
                cycle_start=row.cycle_start,
                subscription_id=row.subscription_id,
                message=Message(id=row.id, target_url=url, transport=transport, body=body, secrets=secrets),
            )
        )
    return claims


def _stopped(sub: Subscription, now: datetime) -> str | None:
    if not sub.is_active:
        return f"subscription disabled: {sub.disabled_reason or 'by its owner'}"
    if sub.expires_at is not None and sub.expires_at <= now:
        return "subscription expired"
    return None


def _dead(reason: str, now: datetime, attempts: int) -> dict[str, Any]:
    # The claim counted an attempt that never happened: give it back.
    return {
        "status": S.DEAD.value,
        "last_error": reason,
        "attempts": attempts,
        "next_attempt_at": now,
        "updated_at": now,
    }


def record(
    session: Session, settings: Settings, claimed: Claim, sent: Sent, *, owner: str, now: datetime
) -> DeliveryStatus | None:
    """Log the attempt and move the delivery on; None when the lease was lost meanwhile.

    Failures count towards the subscription's consecutive failures (a success resets them); at
    ``webhook_disable_after`` of them, or at a 410, the subscription is disabled with its reason.
    """
    repo = WebhookRepository(session)
    verdict = policy.decide(
        delivered=sent.delivered,
        status_code=sent.status_code,
        permanent=sent.permanent,
        retry_after=policy.parse_retry_after(sent.retry_after, now),
        attempt_in_cycle=claimed.attempt - claimed.cycle_start,
        schedule=policy.parse_schedule(settings.webhook_schedule),
    )
    error = sent.error
    if error is None and not sent.delivered:
        error = f"HTTP {sent.status_code}"
    values = {
        "status": verdict.status.value,
        "last_status_code": sent.status_code,
        "last_error": error,
        "next_attempt_at": now + timedelta(seconds=verdict.delay or 0.0),
        "updated_at": now,
    }
    if not repo.finish(claimed.id, owner, claimed.attempt, values):
        return None
    repo.add_attempts(
        [
            {
                "delivery_id": claimed.id,
                "attempt": claimed.attempt,
                "status_code": sent.status_code,
                "latency_ms": sent.latency_ms,
                "response_snippet": sent.snippet,
                "error": sent.error,
                "at": now,
            }
        ]
    )
    if claimed.subscription_id is not None:
        _count(repo, settings, claimed.subscription_id, verdict, error, now)
    return verdict.status


def _count(
    repo: WebhookRepository,
    settings: Settings,
    subscription_id: str,
    verdict: policy.Verdict,
    error: str | None,
    now: datetime,
) -> None:
    if not verdict.failure:
        repo.reset_failures(subscription_id, now)
        return
    failures = repo.count_failure(subscription_id, now)
    reason = verdict.disable_reason
    if reason is None and failures >= settings.webhook_disable_after:
        reason = f"{failures} consecutive failed attempts (the last: {error})"
    if reason is not None and repo.disable(subscription_id, reason, now):
        repo.kill_pending(subscription_id, f"subscription disabled: {reason}", now)
