"""Named rate limits: counted in memory on one node, shared through a real Redis across nodes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.integration.test_bus import REDIS_URL, require_redis

from mediaforge.config import Settings
from mediaforge.errors import RateLimited
from mediaforge.ratelimit import RateLimiter


def limiter(tmp_path: Path, storage: str = "", **limits: str) -> RateLimiter:
    return RateLimiter(Settings(data_dir=tmp_path, rate_limit_storage=storage, rate_limits=limits))


def spend(lim: RateLimiter, name: str, key: str, times: int) -> list[bool]:
    """Which of ``times`` hits were allowed."""
    allowed = []
    for _ in range(times):
        try:
            lim.hit(name, key)
            allowed.append(True)
        except RateLimited:
            allowed.append(False)
    return allowed


def test_limit_counts_per_key_and_answers_retry_after(tmp_path: Path) -> None:
    lim = limiter(tmp_path, **{"auth.device": "3/hour"})
    assert spend(lim, "auth.device", "1.2.3.4", 4) == [True, True, True, False]
    assert spend(lim, "auth.device", "5.6.7.8", 1) == [True]
    with pytest.raises(RateLimited) as refused:
        lim.hit("auth.device", "1.2.3.4")
    assert refused.value.status == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 3600


def test_check_does_not_count(tmp_path: Path) -> None:
    lim = limiter(tmp_path, **{"auth.login": "2/minute"})
    for _ in range(5):
        lim.check("auth.login", "k")
    assert spend(lim, "auth.login", "k", 3) == [True, True, False]
    with pytest.raises(RateLimited):
        lim.check("auth.login", "k")


def test_empty_override_turns_a_limit_off_and_unknown_names_are_refused(tmp_path: Path) -> None:
    assert all(spend(limiter(tmp_path, api=""), "api", "k", 2000))
    with pytest.raises(ValueError, match="unknown rate limit"):
        limiter(tmp_path, **{"no.such.limit": "1/second"})


def test_redis_shares_limits_across_nodes(tmp_path: Path) -> None:
    """Two servers (two limiters) on one Redis spend one budget."""
    require_redis()
    name, key = "auth.device", f"ip-{uuid.uuid4().hex}"
    node_a = limiter(tmp_path, REDIS_URL, **{name: "4/hour"})
    node_b = limiter(tmp_path, REDIS_URL, **{name: "4/hour"})
    assert spend(node_a, name, key, 2) + spend(node_b, name, key, 3) == [True, True, True, True, False]
    assert spend(node_a, name, key, 1) == [False]
