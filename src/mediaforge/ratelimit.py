"""Rate limits by name, with the ``limits`` library: in memory on one node, in Redis across nodes.

Each limit has a name (``auth.login``), a default below, and an override in
``MEDIAFORGE_RATE_LIMITS`` (JSON ``{"auth.login": "5/minute"}``; ``""`` turns one off). Callers pass
the key it counts by: a credential id, a client IP, an email, a device code.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from mediaforge.config import Settings
from mediaforge.errors import RateLimited

__all__ = ["DEFAULT_LIMITS", "RateLimiter"]

DEFAULT_LIMITS: dict[str, str] = {
    "api": "1200/minute",  # every authenticated request, per credential
    "auth.login": "10/minute",  # failed logins, per client IP and per email
    "auth.signup": "20/hour",  # per client IP
    "auth.guest": "60/hour",  # new guest sessions, per client IP
    "auth.device": "10/hour",  # device-code starts, per client IP (the Tinify contract)
    "auth.device.decide": "10/hour",  # approve / deny, per client IP (the Tinify contract)
    "auth.device.poll": "20/minute",  # token polls, per device_code (the Tinify contract)
    "workers.pair": "10/minute",  # pairing-code redemptions, per client IP
}


class RateLimiter:
    """Named limits over one storage; ``hit`` counts and raises ``RateLimited`` with a Retry-After."""

    def __init__(self, settings: Settings) -> None:
        unknown = set(settings.rate_limits) - set(DEFAULT_LIMITS)
        if unknown:
            raise ValueError(f"unknown rate limit names: {sorted(unknown)}; known: {sorted(DEFAULT_LIMITS)}")
        self._limiter = SlidingWindowCounterRateLimiter(
            storage_from_string(settings.rate_limit_storage or "memory://")
        )
        merged = {**DEFAULT_LIMITS, **settings.rate_limits}
        self._items: dict[str, RateLimitItem | None] = {
            name: parse(value) if value.strip() else None for name, value in merged.items()
        }

    def hit(self, name: str, key: str) -> None:
        """Count one use of ``name`` by ``key``; 429 once the limit is spent."""
        item = self._items[name]
        if item is not None and not self._limiter.hit(item, name, key):
            self._refuse(name, item, key)

    def check(self, name: str, key: str) -> None:
        """429 if ``key`` has spent ``name`` already, without counting (for failures counted later)."""
        item = self._items[name]
        if item is not None and not self._limiter.test(item, name, key):
            self._refuse(name, item, key)

    def reset(self) -> None:
        self._limiter.storage.reset()

    def _refuse(self, name: str, item: RateLimitItem, key: str) -> None:
        stats = self._limiter.get_window_stats(item, name, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"rate limit exceeded ({item}); retry in {retry_after} s",
            details={"limit": str(item), "retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
