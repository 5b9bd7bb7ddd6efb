"""Readers for Stripe objects as plain dicts, across the API versions a webhook endpoint may be pinned to.

A webhook's payload has the shape of the API version set on the endpoint in the Stripe dashboard, not
of the library. Since 2025-03-31 ("basil") the billing period lives on subscription items and an
invoice names its subscription under ``parent.subscription_details``; older versions put both at the
top level. Each reader tries the newer place first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "account_hint",
    "dig",
    "invoice_price_ids",
    "invoice_subscription",
    "object_id",
    "subscription_period_end",
    "subscription_price",
]


def dig(obj: Any, *path: str) -> Any:
    """``obj[a][b]...``, or None where a step is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def object_id(value: Any) -> str | None:
    """The id of a reference that may be a bare id or an expanded object."""
    if isinstance(value, str):
        return value or None
    found = dig(value, "id")
    return found if isinstance(found, str) and found else None


def account_hint(obj: Mapping[str, Any]) -> str | None:
    """The account id we stamped on a checkout session, subscription or invoice, if any."""
    for path in (
        ("client_reference_id",),
        ("metadata", "account_id"),
        ("parent", "subscription_details", "metadata", "account_id"),
        ("subscription_details", "metadata", "account_id"),
    ):
        found = dig(obj, *path)
        if isinstance(found, str) and found:
            return found
    return None


def _first_item(subscription: Mapping[str, Any]) -> Mapping[str, Any]:
    items = dig(subscription, "items", "data")
    first = items[0] if isinstance(items, list) and items else None
    return first if isinstance(first, Mapping) else {}


def subscription_price(subscription: Mapping[str, Any]) -> str | None:
    """The price of the subscription's (first) item."""
    item = _first_item(subscription)
    return object_id(item.get("price")) or object_id(item.get("plan"))


def subscription_period_end(subscription: Mapping[str, Any]) -> datetime | None:
    """When the current billing period ends."""
    seconds = _first_item(subscription).get("current_period_end") or subscription.get("current_period_end")
    return datetime.fromtimestamp(seconds, UTC) if isinstance(seconds, int) else None


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills, if it bills one."""
    return object_id(dig(invoice, "parent", "subscription_details", "subscription")) or object_id(
        invoice.get("subscription")
    )


def invoice_price_ids(invoice: Mapping[str, Any]) -> list[str]:
    """The prices on an invoice's lines that were charged, not credited (proration credits are negative)."""
    lines = dig(invoice, "lines", "data")
    prices: list[str] = []
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, Mapping) or (line.get("amount") or 0) < 0:
            continue
        price = (
            object_id(dig(line, "pricing", "price_details", "price"))
            or object_id(line.get("price"))
            or object_id(line.get("plan"))
        )
        if price:
            prices.append(price)
    return prices
