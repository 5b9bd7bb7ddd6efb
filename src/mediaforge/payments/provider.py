"""The adapter over the stripe library: the few calls mediaforge makes, with Stripe's errors mapped to ours.

The library is the ``payments`` extra and is imported only when a payment is made. One
``StripeClient`` per secret key is shared by the process; tests pass their own ``http_client``
(Stripe is an outside service, so its HTTP is what they replace).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog

from mediaforge.config import Settings
from mediaforge.errors import BadRequest, Unavailable

if TYPE_CHECKING:
    from stripe import HTTPClient, StripeClient

__all__ = ["StripeProvider", "not_configured"]

log = structlog.get_logger(__name__)

_TIMEOUT = (5.0, 20.0)
"""Connect and read timeouts: checkout and portal calls run inside the caller's transaction."""


def not_configured() -> Unavailable:
    return Unavailable("payments not configured", code="payments_not_configured")


class StripeProvider:
    """Customers, checkout and portal sessions, and verified webhook events, from Stripe."""

    def __init__(self, settings: Settings, *, http_client: HTTPClient | None = None) -> None:
        self.settings = settings
        self._http_client = http_client

    @functools.cached_property
    def client(self) -> StripeClient:
        key = self.settings.stripe_secret_key
        if key is None:
            raise not_configured()
        _require_library()
        if self._http_client is not None:
            return _new_client(key.get_secret_value(), self._http_client)
        return _shared_client(key.get_secret_value())

    def create_customer(self, account_id: str, email: str | None) -> str:
        """A new Stripe customer for the account; retried calls for the same account get the same one."""
        params: dict[str, Any] = {"metadata": {"account_id": account_id}}
        if email:
            params["email"] = email
        with _calling_stripe():
            customer = self.client.v1.customers.create(
                params=params,  # type: ignore[arg-type]  # a plain dict of the documented fields
                options={"idempotency_key": f"mediaforge-customer-{account_id}"},
            )
        return customer.id

    def create_checkout(
        self, account_id: str, customer_id: str, price_id: str, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """A hosted checkout page for one subscription to ``price_id``: ``(url, session id)``."""
        stamp = {"account_id": account_id}
        with _calling_stripe():
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "subscription",
                    "customer": customer_id,
                    "client_reference_id": account_id,
                    "line_items": [{"price": price_id, "quantity": 1}],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": stamp,
                    "subscription_data": {"metadata": stamp},
                }
            )
        if not session.url:
            raise Unavailable("the payment provider returned no checkout page", code="payments_unavailable")
        return session.url, session.id

    def create_portal(self, customer_id: str, return_url: str) -> str:
        """A billing portal page where the customer changes plan, payment method or cancels."""
        with _calling_stripe():
            portal = self.client.v1.billing_portal.sessions.create(
                params={"customer": customer_id, "return_url": return_url}
            )
        return portal.url

    def parse_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event in a webhook body as plain dicts, after the library verified its signature (400)."""
        secret = self.settings.stripe_webhook_secret
        if secret is None:
            raise not_configured()
        _require_library()
        import stripe

        try:
            event = self.client.construct_event(payload, signature, secret.get_secret_value())
        except stripe.SignatureVerificationError as exc:
            raise BadRequest("the Stripe-Signature header does not verify", code="invalid_signature") from exc
        except ValueError as exc:
            raise BadRequest("the webhook body is not a Stripe event", code="invalid_event") from exc
        return event.to_dict()


def _require_library() -> None:
    try:
        import stripe  # noqa: F401
    except ImportError as exc:
        raise Unavailable(
            "payments need the stripe library: pip install 'mediaforge[payments]'",
            code="payments_not_configured",
        ) from exc


def _new_client(api_key: str, http_client: HTTPClient) -> StripeClient:
    import stripe

    return stripe.StripeClient(api_key, http_client=http_client, max_network_retries=1)


@functools.lru_cache(maxsize=4)
def _shared_client(api_key: str) -> StripeClient:
    import stripe

    return _new_client(api_key, stripe.RequestsClient(timeout=_TIMEOUT))


@contextmanager
def _calling_stripe() -> Iterator[None]:
    _require_library()
    import stripe

    try:
        yield
    except stripe.InvalidRequestError as exc:
        message = exc.user_message or "invalid request"
        raise BadRequest(
            f"the payment provider refused the request: {message}", code="payment_rejected"
        ) from exc
    except stripe.StripeError as exc:
        log.warning("stripe_call_failed", error=type(exc).__name__, status=exc.http_status)
        raise Unavailable("the payment provider is unavailable", code="payments_unavailable") from exc
