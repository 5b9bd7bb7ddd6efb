"""``/v1/subscriptions`` and ``/v1/deliveries``: webhook targets, their deliveries, replays."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.clock import utcnow
from mediaforge.errors import BadRequest
from mediaforge.webhooks import service as webhooks
from mediaforge.webhooks.repository import WebhookRepository
from mediaforge.webhooks.schemas import (
    DeliveryPage,
    DeliveryView,
    JobSecret,
    ReplayRange,
    ReplayResult,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionPage,
    SubscriptionUpdate,
    SubscriptionView,
    SubscriptionWithSecret,
)
from mediaforge.webhooks.states import DeliveryStatus

router = APIRouter(tags=["webhooks"])
Reader = Annotated[Principal, Caller("webhooks:read")]
Writer = Annotated[Principal, Caller("webhooks:write")]

Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/v1/subscriptions", status_code=status.HTTP_201_CREATED, response_model=SubscriptionWithSecret)
def create_subscription(
    body: SubscriptionCreate, session: DbSession, rt: Rt, who: Writer
) -> SubscriptionWithSecret:
    """Subscribe a target to events; the answer holds the signing secret, shown only now."""
    now = utcnow()
    sub, secret = webhooks.create(session, who.owner_id, body, settings=rt.settings, now=now)
    return SubscriptionWithSecret(**webhooks.view(sub, now).model_dump(), secret=secret)


@router.get("/v1/subscriptions", response_model=SubscriptionPage)
def list_subscriptions(
    session: ReadSession, who: Reader, limit: Limit = 50, cursor: str | None = None
) -> SubscriptionPage:
    """The caller's subscriptions, newest first."""
    rows = WebhookRepository(session).subscriptions_page(who.sees, limit=limit + 1, before=_decode(cursor))
    page, now = rows[:limit], utcnow()
    more = len(rows) > limit
    return SubscriptionPage(
        items=[webhooks.view(sub, now) for sub in page],
        next_cursor=_encode(page[-1].created_at, page[-1].id) if more else None,
    )


@router.get("/v1/subscriptions/{subscription_id}", response_model=SubscriptionView)
def get_subscription(subscription_id: str, session: ReadSession, who: Reader) -> SubscriptionView:
    """One subscription, with its status and, when disabled, why."""
    return webhooks.view(webhooks.get(session, subscription_id, who.sees), utcnow())


@router.patch("/v1/subscriptions/{subscription_id}", response_model=SubscriptionView)
def update_subscription(
    subscription_id: str, body: SubscriptionUpdate, session: DbSession, rt: Rt, who: Writer
) -> SubscriptionView:
    """Change a subscription; ``is_active: true`` re-enables one that was disabled."""
    now = utcnow()
    sub = webhooks.get(session, subscription_id, who.sees)
    return webhooks.view(webhooks.update(session, sub, body, settings=rt.settings, now=now), now)


@router.delete("/v1/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_subscription(subscription_id: str, session: DbSession, who: Writer) -> Response:
    """Remove a subscription with its deliveries; nothing more is sent to it."""
    webhooks.delete(session, webhooks.get(session, subscription_id, who.sees))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/subscriptions/{subscription_id}/rotate-secret", response_model=SubscriptionWithSecret)
def rotate_secret(
    subscription_id: str, session: DbSession, who: Writer, body: SecretRotation | None = None
) -> SubscriptionWithSecret:
    """Sign with a new secret; the old one also signs for ``previous_expires_in_seconds``."""
    now = utcnow()
    sub = webhooks.get(session, subscription_id, who.sees)
    sub, secret = webhooks.rotate_secret(session, sub, body or SecretRotation(), now=now)
    return SubscriptionWithSecret(**webhooks.view(sub, now).model_dump(), secret=secret)


@router.get("/v1/subscriptions/{subscription_id}/deliveries", response_model=DeliveryPage)
def list_subscription_deliveries(
    subscription_id: str,
    session: ReadSession,
    who: Reader,
    status_: Annotated[list[DeliveryStatus] | None, Query(alias="status")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> DeliveryPage:
    """A subscription's deliveries, newest first."""
    webhooks.get(session, subscription_id, who.sees)
    return _deliveries(session, who.sees, subscription_id, None, status_, limit, cursor)


@router.post("/v1/subscriptions/{subscription_id}/replay", response_model=ReplayResult)
def replay_subscription(
    subscription_id: str, body: ReplayRange, session: DbSession, who: Writer
) -> ReplayResult:
    """Send the subscription's events in an id or time range again (same webhook-id where one exists)."""
    sub = webhooks.get(session, subscription_id, who.sees)
    return webhooks.replay_range(session, sub, body, now=utcnow())


@router.get("/v1/deliveries", response_model=DeliveryPage)
def list_deliveries(
    session: ReadSession,
    who: Reader,
    subscription_id: str | None = None,
    job_id: str | None = None,
    status_: Annotated[list[DeliveryStatus] | None, Query(alias="status")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> DeliveryPage:
    """The caller's deliveries (subscriptions' and jobs' own ``webhook_url``), newest first."""
    return _deliveries(session, who.sees, subscription_id, job_id, status_, limit, cursor)


@router.get("/v1/deliveries/{delivery_id}", response_model=DeliveryView)
def get_delivery(delivery_id: str, session: ReadSession, who: Reader) -> DeliveryView:
    """One delivery with its attempt log."""
    delivery = webhooks.get_delivery(session, delivery_id, who.sees)
    return webhooks.delivery_view(session, delivery, detail=True)


@router.post("/v1/deliveries/{delivery_id}/replay", response_model=DeliveryView)
def replay_delivery(delivery_id: str, session: DbSession, who: Writer) -> DeliveryView:
    """Send a delivery again now, under the same webhook-id, with a fresh retry schedule."""
    delivery = webhooks.get_delivery(session, delivery_id, who.sees)
    delivery = webhooks.replay_delivery(session, delivery, now=utcnow())
    return webhooks.delivery_view(session, delivery, detail=True)


@router.get("/v1/webhooks/default/secret", response_model=JobSecret)
def job_webhook_secret(rt: Rt, who: Reader) -> JobSecret:
    """The secret that signs deliveries to jobs' own ``webhook_url`` (derived; rotates with the
    deployment's ``secret_key``)."""
    return JobSecret(secret=webhooks.job_secret(rt.settings, who.owner_id))


def _deliveries(
    session: Session,
    owner_id: str | None,
    subscription_id: str | None,
    job_id: str | None,
    statuses: list[DeliveryStatus] | None,
    limit: int,
    cursor: str | None,
) -> DeliveryPage:
    rows = WebhookRepository(session).deliveries_page(
        owner_id,
        subscription_id=subscription_id,
        job_id=job_id,
        status=[s.value for s in statuses or []],
        limit=limit + 1,
        before=_decode(cursor),
    )
    page = rows[:limit]
    return DeliveryPage(
        items=[webhooks.delivery_view(session, d) for d in page],
        next_cursor=_encode(page[-1].created_at, page[-1].id) if len(rows) > limit else None,
    )


def _encode(created: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created.isoformat()}|{row_id}".encode()).decode()


def _decode(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        created, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), row_id
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor", code="invalid_cursor") from None
