"""Pure rules: which events a filter wants, when to try again, and what an answer means."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from mediaforge.events.types import matches
from mediaforge.webhooks.states import DeliveryStatus

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "Verdict",
    "decide",
    "event_matches",
    "job_matches",
    "parse_retry_after",
    "parse_schedule",
    "valid_event_pattern",
]

JITTER = 0.1
"""Each scheduled delay moves by up to this fraction either way, so retries do not arrive in lockstep."""
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
_PATTERN = re.compile(r"\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?")


def valid_event_pattern(pattern: str) -> bool:
    """``*``, an exact type such as ``job.completed``, or a prefix such as ``job.*``."""
    return _PATTERN.fullmatch(pattern) is not None


def event_matches(patterns: Sequence[str] | None, event_type: str) -> bool:
    """Whether ``event_type`` passes the filter; ``None`` (no filter) passes everything."""
    return patterns is None or any(matches(pattern, event_type) for pattern in patterns)


def job_matches(job_ids: Sequence[str], job_id: str | None, workflow_id: str | None) -> bool:
    """``["*"]`` passes every event; otherwise the event's job or workflow must be listed."""
    if "*" in job_ids:
        return True
    return (job_id is not None and job_id in job_ids) or (workflow_id is not None and workflow_id in job_ids)


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"0,5,300"`` -> the delay before each attempt; its length is the number of attempts."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"webhook schedule {text!r} is not a comma-separated list of seconds") from None
    if not delays or any(d < 0 for d in delays):
        raise ValueError(f"webhook schedule {text!r} needs at least one delay, none negative")
    return delays


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one attempt's answer means for its delivery and, through it, its subscription."""

    status: DeliveryStatus
    delay: float | None = None
    """Seconds until the next attempt when ``status`` is pending."""
    failure: bool = False
    """Counts towards the subscription's consecutive failures."""
    disable_reason: str | None = None
    """Disable the subscription at once (410 Gone)."""


def decide(
    *,
    delivered: bool,
    status_code: int | None,
    permanent: bool,
    retry_after: float | None,
    attempt_in_cycle: int,
    schedule: Sequence[float],
    rng: random.Random | None = None,
) -> Verdict:
    """Judge attempt number ``attempt_in_cycle`` (1-based) of the current schedule.

    Delivered (2xx, or a websocket frame taken) succeeds; 410 is dead and disables the
    subscription; a refused target (``permanent``) is dead; anything else (429, 5xx, other 4xx, 3xx,
    timeouts, resets) waits for the schedule's next delay, or at least ``Retry-After``, and fails
    once the schedule is used up.
    """
    if delivered:
        return Verdict(DeliveryStatus.SUCCEEDED)
    if status_code == 410:
        return Verdict(DeliveryStatus.DEAD, failure=True, disable_reason="the target answered 410 Gone")
    if permanent:
        return Verdict(DeliveryStatus.DEAD, failure=True)
    if attempt_in_cycle >= len(schedule):
        return Verdict(DeliveryStatus.FAILED, failure=True)
    base = schedule[attempt_in_cycle]
    delay = base * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return Verdict(DeliveryStatus.PENDING, delay=delay, failure=True)
