"""``/api/subscriptions``: job events pushed over HTTP POST or an outgoing websocket.

The core's webhook subscriptions (retries, consecutive failures, auto-disable, SSRF guard), made
with ``face="ifolor"`` so their deliveries carry Ifolor's payload (``deliveries.py``). Only the
subscriptions made here are seen here.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC
from typing import Annotated

from fastapi import Query, Response, status
from pydantic import ValidationError
from sqlalchemy.orm import Session

from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.clock import utcnow
from mediaforge.errors import BadRequest, NotFound
from mediaforge.faces.ifolor import repository
from mediaforge.faces.ifolor.envelope import ifolor_router
from mediaforge.faces.ifolor.schemas import (
    SubscriptionCreateRequest,
    SubscriptionListResponse,
    SubscriptionResponse,
    errors,
)
from mediaforge.faces.ifolor.translate import (
    EVENTS,
    FACE,
    core_events,
    render_subscription,
    same_subscription,
)
from mediaforge.webhooks import service as webhooks
from mediaforge.webhooks.models import Subscription
from mediaforge.webhooks.schemas import SubscriptionCreate
from mediaforge.webhooks.signing import PREFIX
from mediaforge.webhooks.states import Transport

__all__ = ["router"]

router = ifolor_router(tags=["ifolor"])
Reader = Annotated[Principal, Caller("webhooks:read")]
Writer = Annotated[Principal, Caller("webhooks:write")]

_TRANSPORTS = tuple(t.value for t in Transport)


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


@router.post(
    "/api/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionResponse,
    responses={200: {"model": SubscriptionResponse, "description": "An identical one exists"}, **errors(400)},
)
def create_subscription(
    body: SubscriptionCreateRequest, response: Response, session: DbSession, rt: Rt, who: Writer
) -> SubscriptionResponse:
    """201 with a new subscription; 200 with the live one that already has this target, transport,
    events and jobs."""
    spec = _core_spec(body)
    now = utcnow()
    for sub in repository.subscriptions_of(session, who.owner_id, FACE):
        live = sub.is_active and (sub.expires_at is None or sub.expires_at > now)
        if live and same_subscription(sub, body.target_url, body.transport, body.events, body.jobs):
            response.status_code = status.HTTP_200_OK
            return render_subscription(sub, now)
    secret = PREFIX + base64.b64encode(body.secret.encode()).decode() if body.secret else None
    sub, _ = webhooks.create(
        session, who.owner_id, spec, settings=rt.settings, now=now, face=FACE, secret=secret
    )
    return render_subscription(sub, now)


@router.get("/api/subscriptions", response_model=SubscriptionListResponse)
def list_subscriptions(
    session: ReadSession,
    who: Reader,
    transport: Annotated[str | None, Query(description="Filter by transport (http, websocket)")] = None,
    event: Annotated[str | None, Query(description="Filter by subscribed event")] = None,
    job_id: Annotated[str | None, Query(description="Filter by job ID in subscription")] = None,
    is_active: Annotated[bool | None, Query(description="Filter by active status")] = None,
    page: Annotated[int, Query(ge=1, description="Page number")] = 1,
    page_size: Annotated[int, Query(ge=1, le=100, description="Items per page")] = 20,
) -> SubscriptionListResponse:
    """The caller's subscriptions, newest first; ``job_id`` matches those that list that id."""
    now = utcnow()
    found = [
        view
        for view in (
            render_subscription(sub, now) for sub in repository.subscriptions_of(session, who.sees, FACE)
        )
        if (transport is None or view.transport == transport)
        and (event is None or event in view.events)
        and (job_id is None or job_id in view.jobs)
        and (is_active is None or view.is_active == is_active)
    ]
    start = (page - 1) * page_size
    return SubscriptionListResponse(
        items=found[start : start + page_size], total=len(found), page=page, page_size=page_size
    )


@router.get(
    "/api/subscriptions/{subscription_id}", response_model=SubscriptionResponse, responses=errors(404)
)
def get_subscription(subscription_id: uuid.UUID, session: ReadSession, who: Reader) -> SubscriptionResponse:
    return render_subscription(_get(session, subscription_id, who), utcnow())


@router.delete(
    "/api/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
def delete_subscription(subscription_id: uuid.UUID, session: DbSession, who: Writer) -> Response:
    """Nothing more is sent to it (its pending deliveries go with it)."""
    webhooks.delete(session, _get(session, subscription_id, who))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _get(session: Session, subscription_id: uuid.UUID, who: Principal) -> Subscription:
    key = str(subscription_id)
    try:
        sub = webhooks.get(session, key, who.sees)
    except NotFound:
        sub = None
    if sub is None or sub.face != FACE:
        raise SubscriptionNotFound(f"Subscription {key} not found")
    return sub


def _core_spec(body: SubscriptionCreateRequest) -> SubscriptionCreate:
    """The core subscription the request asks for, or a 400 naming what is wrong with it."""
    if body.transport not in _TRANSPORTS:
        raise BadRequest(f"Invalid transport {body.transport!r}; use one of: {', '.join(_TRANSPORTS)}")
    if not body.events:
        raise BadRequest("events must name at least one event")
    unknown = [e for e in body.events if e not in EVENTS]
    if unknown:
        raise BadRequest(f"Unknown event(s) {unknown}; use: {', '.join(EVENTS)}")
    if not body.jobs or any(not j.strip() for j in body.jobs):
        raise BadRequest('jobs must be ["*"] or a list of job ids')
    if body.ttl is not None and body.ttl < 1:
        raise BadRequest("ttl is in seconds and must be at least 1")
    expires_at = body.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    try:
        return SubscriptionCreate(
            target_url=body.target_url,
            transport=Transport(body.transport),
            event_types=core_events(body.events),
            job_ids=list(dict.fromkeys(body.jobs)),
            description=body.description,
            is_active=body.is_active,
            ttl_seconds=body.ttl if expires_at is None else None,  # an explicit expires_at wins
            expires_at=expires_at,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise BadRequest(f"Invalid {field}: {problem['msg']}") from None
