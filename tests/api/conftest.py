"""API fixtures with auth on: two real tenants, Alice and Bob, and an app that checks their keys.

Tenants live in the database, so ``alice`` and ``bob`` serve any app built on this test's
``database_url``, whatever its other settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.accounts import Tenant, make_tenant
from tests.conftest import make_settings
from tests.integration.test_webhooks import Receiver

from mediaforge.app import create_app
from mediaforge.config import Settings


@pytest.fixture
def auth_settings(tmp_path: Path, database_url: str) -> Settings:
    """Test settings with auth on: every request needs a real credential."""
    return make_settings(tmp_path, database_url, auth_disabled=False)


@pytest.fixture
def alice(auth_settings: Settings) -> Tenant:
    return make_tenant(auth_settings, "alice@example.com")


@pytest.fixture
def bob(auth_settings: Settings) -> Tenant:
    return make_tenant(auth_settings, "bob@example.com")


@pytest.fixture
def tenants(auth_settings: Settings) -> Iterator[TestClient]:
    """The app with auth on and no worker (jobs stay queued); send ``alice.headers`` or ``bob.headers``."""
    with TestClient(create_app(auth_settings, workers=0, run_migrations=False)) as c:
        yield c


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP server that records webhook deliveries."""
    r = Receiver()
    yield r
    r.close()
