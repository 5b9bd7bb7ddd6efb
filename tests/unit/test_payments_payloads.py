"""Reading Stripe objects in the shapes of API versions before and since 2025-03-31 ("basil")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mediaforge.payments import payloads
from mediaforge.payments.status import ENTITLED, TERMINAL, SubscriptionStatus

BASIL_SUBSCRIPTION = {
    "id": "sub_1",
    "items": {"data": [{"price": {"id": "price_pro"}, "current_period_end": 1_900_000_000}]},
}
LEGACY_SUBSCRIPTION = {
    "id": "sub_1",
    "current_period_end": 1_900_000_000,
    "items": {"data": [{"plan": {"id": "price_pro"}}]},
}


@pytest.mark.parametrize("obj", [BASIL_SUBSCRIPTION, LEGACY_SUBSCRIPTION], ids=["basil", "legacy"])
def test_subscription_price_and_period_end_are_read_from_either_shape(obj: dict[str, object]) -> None:
    """The price and the period's end come from the first item, or from the top level before basil."""
    expected = ("price_pro", datetime(2030, 3, 17, 17, 46, 40, tzinfo=UTC))

    assert expected == (payloads.subscription_price(obj), payloads.subscription_period_end(obj))


def test_a_subscription_without_items_has_no_price_or_period() -> None:
    """Missing pieces read as None rather than raising."""
    assert (None, None) == (payloads.subscription_price({}), payloads.subscription_period_end({"items": []}))


@pytest.mark.parametrize(
    "invoice",
    [
        {"parent": {"subscription_details": {"subscription": "sub_1"}}},
        {"subscription": "sub_1"},
        {"subscription": {"id": "sub_1", "object": "subscription"}},
    ],
    ids=["basil", "legacy", "expanded"],
)
def test_the_invoiced_subscription_is_read_from_either_shape(invoice: dict[str, object]) -> None:
    """An invoice names its subscription under parent.subscription_details, or at the top before basil."""
    assert "sub_1" == payloads.invoice_subscription(invoice)


def test_invoice_prices_skip_credited_lines() -> None:
    """Proration credits (negative lines) are not what the invoice paid for."""
    invoice = {
        "lines": {
            "data": [
                {"amount": -900, "pricing": {"price_details": {"price": "price_pro"}}},
                {"amount": 4900, "pricing": {"price_details": {"price": "price_business"}}},
                {"amount": 0, "price": {"id": "price_legacy"}},
            ]
        }
    }

    assert ["price_business", "price_legacy"] == payloads.invoice_price_ids(invoice)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"client_reference_id": "acc_1", "metadata": {"account_id": "acc_2"}}, "acc_1"),
        ({"metadata": {"account_id": "acc_2"}}, "acc_2"),
        ({"parent": {"subscription_details": {"metadata": {"account_id": "acc_3"}}}}, "acc_3"),
        ({"subscription_details": {"metadata": {"account_id": "acc_4"}}}, "acc_4"),
        ({"metadata": {}, "client_reference_id": None}, None),
    ],
    ids=["checkout", "subscription", "basil-invoice", "legacy-invoice", "none"],
)
def test_the_account_stamp_is_found_where_each_object_carries_it(
    obj: dict[str, object], expected: str | None
) -> None:
    """Checkout sessions carry client_reference_id; subscriptions and their invoices carry metadata."""
    assert expected == payloads.account_hint(obj)


def test_dig_stops_at_anything_that_is_not_a_mapping() -> None:
    """A missing step, a list or a scalar on the way reads as None."""
    assert [None, None, None, 1] == [
        payloads.dig({"a": None}, "a", "b"),
        payloads.dig({"a": [1]}, "a", "b"),
        payloads.dig("text", "a"),
        payloads.dig({"a": {"b": 1}}, "a", "b"),
    ]


def test_only_trialing_active_and_past_due_are_entitled() -> None:
    """The plan applies in trial, when paid up, and while Stripe retries a failed renewal."""
    assert {"trialing", "active", "past_due"} == set(ENTITLED)
    assert not ENTITLED & TERMINAL
    assert set(TERMINAL) < set(SubscriptionStatus)
