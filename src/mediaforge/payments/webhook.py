"""Stripe's webhook events: verify, then bring the account's billing state, tier and credits up to date.

Every handler is idempotent (Stripe redelivers until it gets a 2xx, and may deliver out of order):
state is overwritten from the event, credits are granted once per invoice, and news of a
subscription that already ended, or of one the account has since replaced, is ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog
from sqlalchemy.orm import Session

from mediaforge.config import Settings
from mediaforge.credits import ledger
from mediaforge.identity.models import Account
from mediaforge.payments import payloads, repository
from mediaforge.payments.models import BillingState
from mediaforge.payments.provider import StripeProvider, not_configured
from mediaforge.payments.status import ENTITLED, TERMINAL, SubscriptionStatus

__all__ = ["HANDLED", "handle_webhook"]

log = structlog.get_logger(__name__)

FREE_TIER = "free"

Handler = Callable[[Session, Settings, str, Mapping[str, Any]], bool]


def handle_webhook(
    session: Session,
    settings: Settings,
    payload: bytes,
    signature: str | None,
    *,
    provider: StripeProvider | None = None,
) -> bool:
    """Apply one signed webhook delivery (400 when the signature does not verify).

    Returns whether the event type is one mediaforge acts on; others are acknowledged and ignored.
    """
    if not settings.payments_configured:
        raise not_configured()
    event = (provider or StripeProvider(settings)).parse_event(payload, signature)
    kind = str(event.get("type", ""))
    handler = HANDLED.get(kind)
    obj = payloads.dig(event, "data", "object")
    if handler is None or not isinstance(obj, Mapping):
        log.debug("stripe_event_ignored", event_id=event.get("id"), type=kind)
        return False
    applied = handler(session, settings, kind, obj)
    log.info("stripe_event", event_id=event.get("id"), type=kind, applied=applied)
    return True


def _checkout_completed(session: Session, settings: Settings, kind: str, obj: Mapping[str, Any]) -> bool:
    """Link the customer and the new subscription to the account named by ``client_reference_id``."""
    if obj.get("mode") != "subscription":
        return False
    account = _account(session, payloads.account_hint(obj), None)
    if account is None:
        return False
    state = repository.billing_state(session, account.id)
    _link_customer(session, state, payloads.object_id(obj.get("customer")))
    subscription_id = payloads.object_id(obj.get("subscription"))
    # A live subscription is only replaced by the subscription events themselves, which carry a status.
    if subscription_id and state.subscription_id != subscription_id and state.status not in ENTITLED:
        state.subscription_id = subscription_id
        state.status = state.price_id = state.plan = state.current_period_end = None
    return True


def _subscription_changed(session: Session, settings: Settings, kind: str, obj: Mapping[str, Any]) -> bool:
    """Record the subscription's status and price; the tier follows while it is entitled."""
    subscription_id = payloads.object_id(obj)
    customer_id = payloads.object_id(obj.get("customer"))
    account = _account(session, payloads.account_hint(obj), customer_id)
    if account is None or subscription_id is None:
        return False
    status = SubscriptionStatus.CANCELED.value if kind.endswith(".deleted") else str(obj.get("status"))
    state = repository.billing_state(session, account.id)
    replaced = state.subscription_id not in (None, subscription_id) and state.status not in TERMINAL
    if replaced and status not in ENTITLED:
        return False  # news of an older subscription while the current one has not ended
    if state.subscription_id == subscription_id and state.status in TERMINAL and status not in TERMINAL:
        return False  # a late update of a subscription that already ended
    price_id = payloads.subscription_price(obj)
    plan = settings.stripe_prices.get(price_id) if price_id else None
    previous_plan = state.plan
    _link_customer(session, state, customer_id)
    state.subscription_id = subscription_id
    state.status = status
    state.price_id = price_id
    state.plan = plan
    state.current_period_end = payloads.subscription_period_end(obj)
    if status in ENTITLED:
        if plan is None:
            log.warning("stripe_price_unknown", price_id=price_id, account_id=account.id)
        else:
            account.tier = plan
    elif account.tier in {previous_plan, plan} - {None}:
        account.tier = FREE_TIER
    return True


def _invoice_paid(session: Session, settings: Settings, kind: str, obj: Mapping[str, Any]) -> bool:
    """Grant the plan's credits for the billing period this invoice paid for (once per invoice)."""
    invoice_id = payloads.object_id(obj)
    account = _account(session, payloads.account_hint(obj), payloads.object_id(obj.get("customer")))
    if account is None or invoice_id is None:
        return False
    plan = _invoice_plan(session, settings, account.id, obj)
    credits = settings.credit_plans.get(plan) if plan else None
    if not credits:
        log.warning("stripe_invoice_without_plan", invoice_id=invoice_id, account_id=account.id, plan=plan)
        return False
    ledger.grant(
        session,
        settings,
        account.id,
        credits,
        reason=f"{plan} plan, invoice {invoice_id}",
        period=f"invoice:{invoice_id}",
    )
    return True


def _customer_deleted(session: Session, settings: Settings, kind: str, obj: Mapping[str, Any]) -> bool:
    """Forget a customer deleted in Stripe, so the next checkout creates a new one."""
    customer_id = payloads.object_id(obj)
    account_id = repository.account_for_customer(session, customer_id) if customer_id else None
    if account_id is None or repository.lock_account(session, account_id) is None:
        return False
    repository.billing_state(session, account_id).customer_id = None
    return True


HANDLED: dict[str, Handler] = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "customer.subscription.paused": _subscription_changed,
    "customer.subscription.resumed": _subscription_changed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,
    "customer.deleted": _customer_deleted,
}
"""The event types mediaforge acts on; subscribe the Stripe webhook endpoint to these."""


def _account(session: Session, hint: str | None, customer_id: str | None) -> Account | None:
    """The account an object belongs to, locked: by the id we stamped on it, else by its customer."""
    account_id = hint or (repository.account_for_customer(session, customer_id) if customer_id else None)
    account = repository.lock_account(session, account_id) if account_id else None
    if account is None:
        log.info("stripe_event_for_unknown_account", account_id=account_id, customer_id=customer_id)
    return account


def _link_customer(session: Session, state: BillingState, customer_id: str | None) -> None:
    """Remember the account's Stripe customer; never move a customer between accounts."""
    if customer_id is None or state.customer_id == customer_id:
        return
    owner = repository.account_for_customer(session, customer_id)
    if state.customer_id is None and owner is None:
        state.customer_id = customer_id
    else:
        log.warning(
            "stripe_customer_conflict",
            account_id=state.account_id,
            customer_id=customer_id,
            linked=state.customer_id,
            owner=owner,
        )


def _invoice_plan(
    session: Session, settings: Settings, account_id: str, invoice: Mapping[str, Any]
) -> str | None:
    """The plan an invoice paid for: from its priced lines, else the plan of the subscription it bills."""
    for price_id in payloads.invoice_price_ids(invoice):
        if price_id in settings.stripe_prices:
            return settings.stripe_prices[price_id]
    state = repository.state_of(session, account_id)
    subscription_id = payloads.invoice_subscription(invoice)
    if state is not None and subscription_id and state.subscription_id == subscription_id:
        return state.plan
    return None
