"""Billing: Stripe checkout and portal pages, the subscription's state, and Stripe's webhook.

Every route answers 503 ``payments_not_configured`` until the Stripe keys are set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mediaforge import payments
from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.payments import StripeProvider

__all__ = ["payment_provider", "router"]

router = APIRouter(tags=["billing"])
Reader = Annotated[Principal, Caller("billing:read")]
Writer = Annotated[Principal, Caller("billing:write")]
Url = Annotated[str, Field(max_length=2048, pattern=r"^https?://")]


def payment_provider(rt: Rt) -> StripeProvider:
    """The provider the routes use (a dependency, so tests can put Stripe's HTTP behind a fake)."""
    return StripeProvider(rt.settings)


Provider = Annotated[StripeProvider, Depends(payment_provider)]


class CheckoutBody(BaseModel):
    price_id: str = Field(max_length=255, description="A Stripe price id this server sells (stripe_prices).")
    success_url: Url | None = Field(None, description="Where Stripe sends the buyer after paying.")
    cancel_url: Url | None = Field(None, description="Where Stripe sends the buyer who turns back.")


class CheckoutView(BaseModel):
    checkout_url: str
    session_id: str


class PortalBody(BaseModel):
    return_url: Url | None = Field(
        None, description="Where the portal's back link goes; public_url if unset."
    )


class PortalView(BaseModel):
    portal_url: str


class SubscriptionView(BaseModel):
    status: str
    """Stripe's subscription status, or ``none`` when the account never subscribed."""
    plan: str | None
    price_id: str | None
    current_period_end: datetime | None


class WebhookReceipt(BaseModel):
    received: bool = True
    handled: bool
    """Whether mediaforge acts on this event type (others are acknowledged and ignored)."""


@router.post("/v1/billing/checkout", response_model=CheckoutView)
def checkout(body: CheckoutBody, session: DbSession, rt: Rt, who: Writer, provider: Provider) -> CheckoutView:
    """A Stripe Checkout page for a subscription; 409 while one is live (use the portal to change plans)."""
    url, session_id = payments.checkout(
        session,
        rt.settings,
        who.account_id,
        body.price_id,
        body.success_url,
        body.cancel_url,
        provider=provider,
    )
    return CheckoutView(checkout_url=url, session_id=session_id)


@router.post("/v1/billing/portal", response_model=PortalView)
def portal(
    session: DbSession, rt: Rt, who: Writer, provider: Provider, body: PortalBody | None = None
) -> PortalView:
    """A Stripe billing portal page: change plan or payment method, cancel, see invoices."""
    return_url = body.return_url if body else None
    url = payments.portal(session, rt.settings, who.account_id, return_url, provider=provider)
    return PortalView(portal_url=url)


@router.get("/v1/billing/subscription", response_model=SubscriptionView)
def subscription(session: ReadSession, rt: Rt, who: Reader) -> SubscriptionView:
    state = payments.subscription(session, rt.settings, who.account_id)
    return SubscriptionView(
        status=state.status,
        plan=state.plan,
        price_id=state.price_id,
        current_period_end=state.current_period_end,
    )


@router.post("/v1/billing/stripe-webhook", response_model=WebhookReceipt)
async def stripe_webhook(
    request: Request,
    rt: Rt,
    provider: Provider,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookReceipt:
    """Stripe's events, verified by their ``Stripe-Signature`` (the signature is the credential)."""
    return WebhookReceipt(handled=await receive_webhook(request, rt, provider, stripe_signature))


async def receive_webhook(request: Request, rt: Rt, provider: StripeProvider, signature: str | None) -> bool:
    """Apply one Stripe delivery from its raw body (in a worker thread); whether its type is handled."""
    payload = await request.body()

    def apply() -> bool:
        with rt.db.session() as session:
            return payments.handle_webhook(session, rt.settings, payload, signature, provider=provider)

    return await run_in_threadpool(apply)
