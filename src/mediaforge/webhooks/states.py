"""The delivery lifecycle: states, the terminal set, and the one transition table.

::

    pending ──► delivering ──► succeeded | failed | dead
       │  ▲         │  ▲ (lease expired: leased again, same webhook-id)
       │  └─────────┘  └─┘ (a retryable failure: pending again, after the schedule's next delay)
       └──► dead (its subscription was disabled, expired or is gone)
    succeeded | failed | dead ──► pending (replay, same webhook-id)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TERMINAL", "DeliveryStatus", "Transport", "allowed_from"]


class Transport(StrEnum):
    """How a subscription's events travel."""

    HTTP = "http"
    """A signed ``POST`` per delivery (Standard Webhooks)."""
    WEBSOCKET = "websocket"
    """The server connects out to a ``ws(s)://`` URL, signs the handshake, sends one JSON text frame."""


class DeliveryStatus(StrEnum):
    """Where a delivery is in its life."""

    PENDING = "pending"
    """Waiting for its next attempt at ``next_attempt_at`` (the first, a retry, or a replay)."""
    DELIVERING = "delivering"
    """Leased by a dispatcher that is sending it; due again when the lease expires."""
    SUCCEEDED = "succeeded"
    """The target answered 2xx (HTTP) or took the frame (websocket)."""
    FAILED = "failed"
    """Every attempt of the retry schedule failed."""
    DEAD = "dead"
    """Never tried again: the target answered 410 or is blocked, or its subscription stopped."""


S = DeliveryStatus
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.DEAD})

_ALLOWED: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    S.PENDING: frozenset({S.DELIVERING, S.DEAD}),
    S.DELIVERING: frozenset({S.DELIVERING, S.PENDING, S.SUCCEEDED, S.FAILED, S.DEAD}),
    S.SUCCEEDED: frozenset({S.PENDING}),
    S.FAILED: frozenset({S.PENDING}),
    S.DEAD: frozenset({S.PENDING}),
}


def allowed_from(new: DeliveryStatus) -> frozenset[DeliveryStatus]:
    """The states from which ``new`` may be entered (for guarded ``UPDATE ... WHERE status IN``)."""
    return frozenset(s for s, targets in _ALLOWED.items() if new in targets)
