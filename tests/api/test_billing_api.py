"""``/v1/billing`` over HTTP: checkout and portal against a fake Stripe HTTP API, signed webhooks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import stripe
from fastapi.testclient import TestClient
from tests.accounts import Tenant, make_tenant
from tests.conftest import make_settings

from mediaforge.api import billing
from mediaforge.app import ROUTERS, create_app
from mediaforge.config import Settings
from mediaforge.payments import StripeProvider

WEBHOOK_SECRET = "whsec_test_secret"
PRICES = {"price_pro": "pro", "price_business": "business"}
STRIPE = {
    "stripe_secret_key": "sk_test_x",
    "stripe_webhook_secret": WEBHOOK_SECRET,
    "stripe_prices": PRICES,
    "credit_plans": {"pro": 1000, "business": 10000},
}


@dataclass
class Sent:
    method: str
    path: str
    form: dict[str, str]
    headers: Mapping[str, str]


class FakeStripe(stripe.HTTPClient):
    """Stripe's HTTP API as far as mediaforge calls it: records each request, answers Stripe-shaped JSON."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self.failure: tuple[int, dict[str, Any]] | None = None
        """When set, every request is answered with this status and error body."""

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        path = urlsplit(url).path
        form = dict(parse_qsl(post_data.decode() if isinstance(post_data, bytes) else post_data or ""))
        self.sent.append(Sent(method, path, form, dict(headers or {})))
        status, body = self.failure or (200, self._reply(path, form))
        return json.dumps(body).encode(), status, {"request-id": f"req_{len(self.sent)}"}

    def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def to(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.path == path]

    def _reply(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        n = len(self.sent)
        if path == "/v1/customers":
            return {"id": f"cus_{n}", "object": "customer", "email": form.get("email")}
        if path == "/v1/checkout/sessions":
            return {
                "id": f"cs_test_{n}",
                "object": "checkout.session",
                "url": f"https://checkout.stripe.com/c/pay/cs_test_{n}",
                "mode": form["mode"],
                "customer": form["customer"],
            }
        if path == "/v1/billing_portal/sessions":
            return {
                "id": f"bps_{n}",
                "object": "billing_portal.session",
                "url": f"https://billing.stripe.com/p/session/test_{n}",
                "customer": form["customer"],
                "return_url": form["return_url"],
            }
        raise AssertionError(f"mediaforge called an unexpected Stripe path {path}")


@dataclass
class Billing:
    client: TestClient
    settings: Settings
    stripe: FakeStripe
    ada: Tenant

    def deliver(self, kind: str, obj: dict[str, Any], *, secret: str = WEBHOOK_SECRET) -> httpx.Response:
        """POST one Stripe event, signed with the stripe library's own helper."""
        payload = json.dumps(event(kind, obj))
        signature = stripe.WebhookSignature.generate_signature_header(payload, secret)
        return self.client.post(
            "/v1/billing/stripe-webhook",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )

    def tier(self) -> str:
        me = self.client.get("/v1/accounts/me", headers=self.ada.headers)
        assert me.status_code == 200, me.text
        tier: str = me.json()["tier"]
        return tier

    def subscription(self) -> dict[str, Any]:
        response = self.client.get("/v1/billing/subscription", headers=self.ada.headers)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    def checkout(self, price_id: str = "price_pro", **urls: str) -> httpx.Response:
        return self.client.post(
            "/v1/billing/checkout", json={"price_id": price_id, **urls}, headers=self.ada.headers
        )


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": int(time.time()),
        "livemode": False,
        "type": kind,
        "data": {"object": obj},
    }


def subscription(
    sub_id: str,
    status: str,
    *,
    price: str = "price_pro",
    customer: str = "cus_1",
    account_id: str | None = None,
) -> dict[str, Any]:
    """A subscription in the shape of API versions since 2025-03-31 (the period on the item)."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "metadata": {"account_id": account_id} if account_id else {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_1",
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price"},
                    "current_period_end": 1_900_000_000,
                }
            ],
        },
    }


def invoice(invoice_id: str, *, customer: str = "cus_1", price: str = "price_pro") -> dict[str, Any]:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "status": "paid",
        "billing_reason": "subscription_cycle",
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}},
        "lines": {
            "object": "list",
            "data": [{"id": "il_1", "amount": 1900, "pricing": {"price_details": {"price": price}}}],
        },
    }


def build_client(settings: Settings, fake: FakeStripe) -> TestClient:
    app = create_app(settings, workers=0, run_migrations=False)
    if billing.router not in ROUTERS:
        app.include_router(billing.router)
    app.dependency_overrides[billing.payment_provider] = lambda: StripeProvider(settings, http_client=fake)
    return TestClient(app)


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Billing]:
    """The app with Stripe configured over a fake HTTP API, and one account (ada, free tier)."""
    settings = make_settings(tmp_path, database_url, auth_disabled=False, **STRIPE)
    ada = make_tenant(settings, "ada@example.com")
    fake = FakeStripe()
    with build_client(settings, fake) as client:
        yield Billing(client, settings, fake, ada)


def test_every_billing_route_answers_503_until_stripe_is_configured(
    tmp_path: Path, database_url: str
) -> None:
    """Without Stripe keys, all four billing routes answer 503 payments_not_configured."""
    settings = make_settings(tmp_path, database_url, auth_disabled=False)
    ada = make_tenant(settings, "ada@example.com")
    fake = FakeStripe()
    with build_client(settings, fake) as client:
        answers = [
            client.post("/v1/billing/checkout", json={"price_id": "price_pro"}, headers=ada.headers),
            client.post("/v1/billing/portal", headers=ada.headers),
            client.get("/v1/billing/subscription", headers=ada.headers),
            client.post(
                "/v1/billing/stripe-webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=00"}
            ),
        ]
    assert [(503, "payments_not_configured")] * 4 == [
        (r.status_code, r.json()["error"]["code"]) for r in answers
    ]
    assert [] == fake.sent


def test_checkout_creates_the_customer_once_and_a_subscription_session(api: Billing) -> None:
    """Checkout makes the account a Stripe customer, then a subscription session stamped with the account."""
    first = api.checkout(
        success_url="https://app.example/ok?s={CHECKOUT_SESSION_ID}", cancel_url="https://app.example/no"
    )
    again = api.checkout("price_business")

    assert 200 == first.status_code, first.text
    assert {
        "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_2",
        "session_id": "cs_test_2",
    } == first.json()
    [customer] = api.stripe.to("/v1/customers")
    assert {"email": "ada@example.com", "metadata[account_id]": api.ada.account_id} == customer.form
    assert f"mediaforge-customer-{api.ada.account_id}" == customer.headers["Idempotency-Key"]
    assert "Bearer sk_test_x" == customer.headers["Authorization"]
    session, second = api.stripe.to("/v1/checkout/sessions")
    assert {
        "mode": "subscription",
        "customer": "cus_1",
        "client_reference_id": api.ada.account_id,
        "line_items[0][price]": "price_pro",
        "line_items[0][quantity]": "1",
        "success_url": "https://app.example/ok?s={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://app.example/no",
        "metadata[account_id]": api.ada.account_id,
        "subscription_data[metadata][account_id]": api.ada.account_id,
    } == session.form
    assert 200 == again.status_code, again.text
    assert ("cus_1", "price_business") == (second.form["customer"], second.form["line_items[0][price]"])
    assert "http://127.0.0.1:8000/?checkout=success" == second.form["success_url"]


def test_checkout_of_a_price_this_server_does_not_sell_is_400(api: Billing) -> None:
    """A price id missing from stripe_prices is refused before Stripe is called."""
    response = api.checkout("price_elsewhere")

    assert (400, "unknown_price") == (response.status_code, response.json()["error"]["code"])
    assert [] == api.stripe.sent


def test_checkout_is_refused_while_a_subscription_is_active(api: Billing) -> None:
    """An account with an active subscription is sent to the billing portal (409)."""
    api.deliver(
        "customer.subscription.created", subscription("sub_1", "active", account_id=api.ada.account_id)
    )

    response = api.checkout("price_business")

    assert (409, "subscription_exists") == (response.status_code, response.json()["error"]["code"])
    assert "billing portal" in response.json()["error"]["message"]
    assert [] == api.stripe.to("/v1/checkout/sessions")


def test_stripe_refusals_are_400_and_outages_503(api: Billing) -> None:
    """Stripe's invalid-request errors reach the caller as 400; its other failures as 503."""
    api.stripe.failure = (
        400,
        {"error": {"type": "invalid_request_error", "message": "No such price: 'price_pro'"}},
    )
    refused = api.checkout()
    api.stripe.failure = (401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
    broken = api.checkout()

    assert (400, "payment_rejected") == (refused.status_code, refused.json()["error"]["code"])
    assert "No such price" in refused.json()["error"]["message"]
    assert (503, "payments_unavailable") == (broken.status_code, broken.json()["error"]["code"])


def test_portal_before_any_checkout_is_409(api: Billing) -> None:
    """There is no portal for an account that never reached Stripe."""
    response = api.client.post("/v1/billing/portal", headers=api.ada.headers)

    assert (409, "no_billing_customer") == (response.status_code, response.json()["error"]["code"])


def test_portal_opens_for_the_accounts_customer(api: Billing) -> None:
    """After a checkout, the portal opens for the same customer, returning to public_url by default."""
    api.checkout()

    default = api.client.post("/v1/billing/portal", headers=api.ada.headers)
    chosen = api.client.post(
        "/v1/billing/portal", json={"return_url": "https://app.example/account"}, headers=api.ada.headers
    )

    assert {"portal_url": "https://billing.stripe.com/p/session/test_3"} == default.json()
    first, second = api.stripe.to("/v1/billing_portal/sessions")
    assert {"customer": "cus_1", "return_url": "http://127.0.0.1:8000"} == first.form
    assert ("cus_1", "https://app.example/account") == (second.form["customer"], second.form["return_url"])
    assert 200 == chosen.status_code


@pytest.mark.parametrize(
    "signing",
    ["wrong-secret", "tampered-body", "no-header", "stale-timestamp"],
)
def test_a_webhook_that_does_not_verify_is_400(api: Billing, signing: str) -> None:
    """Only events signed with the endpoint's secret, recently, over exactly this body are applied."""
    payload = json.dumps(
        event("customer.subscription.created", subscription("sub_1", "active", account_id=api.ada.account_id))
    )
    secret = "whsec_other" if signing == "wrong-secret" else WEBHOOK_SECRET
    stamp = int(time.time()) - 3600 if signing == "stale-timestamp" else None
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=stamp)
    body = payload.replace("active", "trialing") if signing == "tampered-body" else payload
    headers = {} if signing == "no-header" else {"Stripe-Signature": header}

    response = api.client.post("/v1/billing/stripe-webhook", content=body, headers=headers)

    assert (400, "invalid_signature") == (response.status_code, response.json()["error"]["code"])
    assert ("free", "none") == (api.tier(), api.subscription()["status"])


def test_subscription_events_move_the_tier(api: Billing) -> None:
    """An active subscription makes the account's tier its plan; a deleted one puts it back to free."""
    api.deliver(
        "customer.subscription.created", subscription("sub_1", "active", account_id=api.ada.account_id)
    )
    active = (api.tier(), api.subscription())
    api.deliver(
        "customer.subscription.updated",
        subscription("sub_1", "active", price="price_business", account_id=api.ada.account_id),
    )
    upgraded = api.tier()
    api.deliver(
        "customer.subscription.deleted",
        subscription("sub_1", "canceled", price="price_business", account_id=api.ada.account_id),
    )

    assert (
        "pro",
        {
            "status": "active",
            "plan": "pro",
            "price_id": "price_pro",
            "current_period_end": "2030-03-17T17:46:40Z",
        },
    ) == active
    assert "business" == upgraded
    assert ("free", "canceled", "business") == (
        api.tier(),
        api.subscription()["status"],
        api.subscription()["plan"],
    )


def test_checkout_completion_links_the_customer_for_later_events(api: Billing) -> None:
    """checkout.session.completed ties a Stripe customer to the account, so events naming only it apply."""
    completed = api.deliver(
        "checkout.session.completed",
        {
            "id": "cs_test_9",
            "object": "checkout.session",
            "mode": "subscription",
            "client_reference_id": api.ada.account_id,
            "customer": "cus_9",
            "subscription": "sub_9",
        },
    )
    api.deliver("customer.subscription.updated", subscription("sub_9", "trialing", customer="cus_9"))

    assert {"received": True, "handled": True} == completed.json()
    assert ("pro", "trialing") == (api.tier(), api.subscription()["status"])


def test_a_paid_invoice_grants_the_plan_credits_once(api: Billing) -> None:
    """invoice.paid grants credit_plans[plan] once per invoice, however often it and its twin arrive."""
    api.deliver(
        "customer.subscription.created", subscription("sub_1", "active", account_id=api.ada.account_id)
    )

    answers = [
        api.deliver("invoice.paid", invoice("in_1")),
        api.deliver("invoice.paid", invoice("in_1")),
        api.deliver("invoice.payment_succeeded", invoice("in_1")),
        api.deliver("invoice.paid", invoice("in_2", price="price_business")),
    ]

    assert [200] * 4 == [r.status_code for r in answers]
    ledger = api.client.get("/v1/credits/ledger", headers=api.ada.headers).json()
    grants = sorted((e["amount"], e["reason"]) for e in ledger if e["kind"] == "grant")
    assert [(1000, "pro plan, invoice in_1"), (10000, "business plan, invoice in_2")] == grants


def test_late_news_of_an_ended_or_replaced_subscription_is_ignored(api: Billing) -> None:
    """A canceled subscription never comes back, and an old one's end does not cancel its successor."""
    deliver_a = [
        ("customer.subscription.created", subscription("sub_a", "active", account_id=api.ada.account_id)),
        ("customer.subscription.deleted", subscription("sub_a", "canceled", account_id=api.ada.account_id)),
        ("customer.subscription.updated", subscription("sub_a", "active", account_id=api.ada.account_id)),
    ]
    for kind, obj in deliver_a:
        api.deliver(kind, obj)
    after_a = (api.tier(), api.subscription()["status"])
    api.deliver(
        "customer.subscription.created", subscription("sub_b", "active", account_id=api.ada.account_id)
    )
    api.deliver(
        "customer.subscription.deleted", subscription("sub_a", "canceled", account_id=api.ada.account_id)
    )

    assert ("free", "canceled") == after_a
    assert ("pro", "active") == (api.tier(), api.subscription()["status"])


def test_unknown_event_types_are_acknowledged_and_ignored(api: Billing) -> None:
    """Stripe gets a 2xx for events mediaforge does not act on, so it stops redelivering them."""
    response = api.deliver("charge.refunded", {"id": "ch_1", "object": "charge", "customer": "cus_1"})

    assert (200, {"received": True, "handled": False}) == (response.status_code, response.json())


def test_billing_routes_need_billing_scopes(api: Billing) -> None:
    """Checkout and portal need billing:write; the subscription needs billing:read."""
    reader = make_tenant(api.settings, "reader@example.com", scopes=["billing:read"])
    other = make_tenant(api.settings, "other@example.com", scopes=["credits:read"])

    answers = [
        api.client.post(
            "/v1/billing/checkout", json={"price_id": "price_pro"}, headers=reader.headers
        ).status_code,
        api.client.post("/v1/billing/portal", headers=reader.headers).status_code,
        api.client.get("/v1/billing/subscription", headers=reader.headers).status_code,
        api.client.get("/v1/billing/subscription", headers=other.headers).status_code,
    ]

    assert [403, 403, 200, 403] == answers


def test_credits_paid_before_the_subscription_event_survive_the_daily_reset(api: Billing) -> None:
    """An invoice that beats the subscription event tops up a free account after today's reset."""
    api.checkout()
    api.deliver("invoice.paid", invoice("in_1"))

    balance = api.client.get("/v1/credits", headers=api.ada.headers).json()

    assert ("free", 50 + 1000) == (balance["tier"], balance["balance"])


def test_a_tier_set_by_an_admin_outlives_the_subscriptions_end(api: Billing) -> None:
    """Cancellation returns to free only from the plan the subscription set, not from a hand-set tier."""
    admin = make_tenant(api.settings, "root@example.com", role="admin")
    api.deliver(
        "customer.subscription.created", subscription("sub_1", "active", account_id=api.ada.account_id)
    )
    patched = api.client.patch(
        f"/v1/admin/accounts/{api.ada.account_id}", json={"tier": "business"}, headers=admin.headers
    )
    api.deliver(
        "customer.subscription.deleted", subscription("sub_1", "canceled", account_id=api.ada.account_id)
    )

    assert 200 == patched.status_code, patched.text
    assert ("business", "canceled") == (api.tier(), api.subscription()["status"])


def test_a_new_subscription_is_followed_once_the_old_one_ended(api: Billing) -> None:
    """After a cancellation, a new subscription's events apply from its first, even before it is active."""
    ada = api.ada.account_id
    api.deliver("customer.subscription.created", subscription("sub_a", "active", account_id=ada))
    api.deliver("customer.subscription.deleted", subscription("sub_a", "canceled", account_id=ada))
    api.deliver("customer.subscription.created", subscription("sub_b", "incomplete", account_id=ada))
    incomplete = (api.tier(), api.subscription()["status"])
    api.deliver(
        "customer.subscription.updated",
        subscription("sub_b", "active", price="price_business", account_id=ada),
    )

    assert ("free", "incomplete") == incomplete
    assert ("business", "active") == (api.tier(), api.subscription()["status"])
