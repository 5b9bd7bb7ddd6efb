"""Webhooks: subscriptions, signed deliveries with retries, and the receiver's ``verify`` helper.

Receivers only need ``verify`` (Standard Webhooks, ``v1`` HMAC-SHA256)::

    from mediaforge.webhooks import verify

    payload = verify(request_body, request_headers, "whsec_...")
"""

from __future__ import annotations

from mediaforge.webhooks.signing import WebhookVerificationError, new_secret, sign, verify

__all__ = ["WebhookVerificationError", "new_secret", "sign", "verify"]
