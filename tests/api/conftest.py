"""API fixtures: a local webhook receiver (the tenants, Alice and Bob, are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.test_webhooks import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP server that records webhook deliveries."""
    r = Receiver()
    yield r
    r.close()
