"""The provider's subscription lifecycle, and what each status means for the account's tier."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ENTITLED", "TERMINAL", "SubscriptionStatus"]


class SubscriptionStatus(StrEnum):
    """Stripe's subscription statuses (the provider moves them; we only record and react)."""

    NONE = "none"
    """Ours, not Stripe's: the account never subscribed."""
    INCOMPLETE = "incomplete"
    """The first payment needs action; expires after 23 hours."""
    INCOMPLETE_EXPIRED = "incomplete_expired"
    """The first payment never succeeded. Terminal."""
    TRIALING = "trialing"
    """In a free trial: the plan applies."""
    ACTIVE = "active"
    """Paid up: the plan applies."""
    PAST_DUE = "past_due"
    """A renewal failed and Stripe is retrying: the plan still applies (grace while dunning)."""
    UNPAID = "unpaid"
    """Retries ran out and the subscription stays open unpaid: back to the free tier."""
    PAUSED = "paused"
    """A trial ended without a payment method: back to the free tier."""
    CANCELED = "canceled"
    """Ended, for good. Terminal: a canceled subscription never becomes active again."""


ENTITLED = frozenset({SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})
"""While in one of these, the account's tier is the subscribed plan, and checkout is refused."""

TERMINAL = frozenset({SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED})
"""No event moves a subscription out of these; later news of it is stale."""
