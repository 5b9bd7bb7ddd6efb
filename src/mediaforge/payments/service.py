"""Paid plans through Stripe: start a subscription, manage it in the portal, read its state.

Face-neutral: every face maps its billing routes onto these functions. Each takes the caller's unit
of work and never commits; the provider is built from settings unless one is passed (tests pass a
provider over a fake HTTP client).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from mediaforge.config import Settings
from mediaforge.errors import BadRequest, Conflict
from mediaforge.identity.models import Account
from mediaforge.payments import repository
from mediaforge.payments.provider import StripeProvider, not_configured
from mediaforge.payments.status import ENTITLED, SubscriptionStatus

__all__ = ["SubscriptionState", "checkout", "portal", "subscription"]


@dataclass(frozen=True)
class SubscriptionState:
    """What the account pays for, as the provider last told us."""

    status: str
    """A ``SubscriptionStatus``; ``none`` when the account never subscribed."""
    plan: str | None
    """The tier the price buys (``stripe_prices``); None for a price this server does not sell."""
    price_id: str | None
    current_period_end: datetime | None


def checkout(
    session: Session,
    settings: Settings,
    account_id: str,
    price_id: str,
    success_url: str | None = None,
    cancel_url: str | None = None,
    *,
    provider: StripeProvider | None = None,
) -> tuple[str, str]:
    """A Stripe Checkout page subscribing the account to ``price_id``: ``(checkout_url, session_id)``.

    400 for a price this server does not sell; 409 while a subscription is live (plans change in
    the billing portal). The Stripe customer is created on the first checkout and kept.
    """
    provider = _provider(settings, provider)
    if price_id not in settings.stripe_prices:
        raise BadRequest(
            f"unknown price {price_id!r}",
            code="unknown_price",
            details={"prices": sorted(settings.stripe_prices)},
        )
    account = _account(session, account_id)
    state = repository.billing_state(session, account.id)
    if state.status in ENTITLED:
        raise Conflict(
            f"the account already has a {state.status} subscription; use the billing portal to change plans",
            code="subscription_exists",
        )
    if state.customer_id is None:
        state.customer_id = provider.create_customer(account.id, account.email)
        session.flush()
    return provider.create_checkout(
        account.id,
        state.customer_id,
        price_id,
        success_url or _back_to(settings, "checkout=success"),
        cancel_url or _back_to(settings, "checkout=canceled"),
    )


def portal(
    session: Session,
    settings: Settings,
    account_id: str,
    return_url: str | None = None,
    *,
    provider: StripeProvider | None = None,
) -> str:
    """A Stripe billing portal page for the account (409 before its first checkout)."""
    provider = _provider(settings, provider)
    state = repository.state_of(session, _account(session, account_id, lock=False).id)
    if state is None or state.customer_id is None:
        raise Conflict("no billing account yet: subscribe through checkout first", code="no_billing_customer")
    return provider.create_portal(state.customer_id, return_url or settings.public_url)


def subscription(session: Session, settings: Settings, account_id: str) -> SubscriptionState:
    """The account's subscription as last reported by Stripe's webhooks."""
    if not settings.payments_configured:
        raise not_configured()
    state = repository.state_of(session, account_id)
    if state is None or state.status is None:
        return SubscriptionState(SubscriptionStatus.NONE.value, None, None, None)
    return SubscriptionState(state.status, state.plan, state.price_id, state.current_period_end)


def _provider(settings: Settings, provider: StripeProvider | None) -> StripeProvider:
    if not settings.payments_configured:
        raise not_configured()
    return provider or StripeProvider(settings)


def _account(session: Session, account_id: str, *, lock: bool = True) -> Account:
    account = repository.lock_account(session, account_id) if lock else session.get(Account, account_id)
    if account is None:
        raise BadRequest("billing needs a signed-in account", code="no_account")
    return account


def _back_to(settings: Settings, query: str) -> str:
    return f"{settings.public_url.rstrip('/')}/?{query}"
