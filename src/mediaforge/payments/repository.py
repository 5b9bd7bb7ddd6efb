"""The SQL of payments: the account row lock, billing state by account or by Stripe customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediaforge.identity.models import Account
from mediaforge.payments.models import BillingState

__all__ = ["account_for_customer", "billing_state", "lock_account", "state_of"]


def lock_account(session: Session, account_id: str) -> Account | None:
    """The account, its row locked for the rest of the transaction (billing writes queue per account)."""
    return session.scalars(
        select(Account)
        .where(Account.id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def state_of(session: Session, account_id: str) -> BillingState | None:
    """The account's billing state as stored now, or None when it never reached the provider."""
    return session.get(BillingState, account_id, populate_existing=True)


def billing_state(session: Session, account_id: str) -> BillingState:
    """The account's billing state, created empty when missing (call with the account locked)."""
    state = state_of(session, account_id)
    if state is None:
        state = BillingState(account_id=account_id)
        session.add(state)
    return state


def account_for_customer(session: Session, customer_id: str) -> str | None:
    """The account linked to a Stripe customer."""
    return session.scalar(select(BillingState.account_id).where(BillingState.customer_id == customer_id))
