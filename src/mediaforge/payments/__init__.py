"""Payments: paid plans through Stripe (checkout, billing portal, webhooks) feeding tiers and credits."""

from __future__ import annotations

from mediaforge.payments.provider import StripeProvider
from mediaforge.payments.service import SubscriptionState, checkout, portal, subscription
from mediaforge.payments.status import SubscriptionStatus
from mediaforge.payments.webhook import handle_webhook

__all__ = [
    "StripeProvider",
    "SubscriptionState",
    "SubscriptionStatus",
    "checkout",
    "handle_webhook",
    "portal",
    "subscription",
]
