"""Shared fixtures: one database per backend (SQLite, PostgreSQL), settings, runtime, HTTP client.

PostgreSQL is required in CI (``CI=true``) and skipped locally only when it is not reachable.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.accounts import Tenant, make_tenant

from mediaforge.app import create_app
from mediaforge.config import Settings
from mediaforge.db.migrate import migrate
from mediaforge.runtime import Runtime

pytest_plugins = ["tests.s3server"]

PG_ADMIN = os.environ.get("MEDIAFORGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = (
    "events, jobs, workflows, assets, workers, webhook_attempts, webhook_deliveries, webhook_subscriptions,"
    " webhook_cursors, accounts, credentials, auth_codes, credit_entries, billing_states, photos"
)


def _pg_reachable() -> bool:
    host_port = PG_ADMIN.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        socket.create_connection((host, int(port or 5432)), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    if not _pg_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but is not reachable")
        pytest.skip("PostgreSQL not reachable")
    import psycopg

    name = f"mf_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A clean, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "mediaforge.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} CASCADE")
    return url


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings tuned for tests: short leases, fast sweeps, tiny backoffs; auth off unless overridden."""
    values: dict[str, Any] = {
        "auth_disabled": True,
        "data_dir": data_dir,
        "database_url": database_url,
        "storage_url": (data_dir / "blobs").as_uri(),
        "lease_seconds": 2.0,
        "sweep_interval_seconds": 0.2,
        "retry_backoff_seconds": 0.05,
        "retry_backoff_max_seconds": 0.2,
        "cancel_grace_seconds": 1.0,
        "worker_poll_seconds": 0.02,
        "log_json": False,
        "worker_concurrency": 2,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings)
    yield rt
    rt.close()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with an embedded worker of two work processes."""
    with TestClient(create_app(settings, workers=2, run_migrations=False)) as c:
        yield c


@pytest.fixture
def api_only(settings: Settings) -> Iterator[TestClient]:
    """The app with no worker: jobs stay queued."""
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as c:
        yield c


def wait_for(client: TestClient, job_id: str, timeout: float = 30.0, **headers: str) -> dict[str, Any]:
    """Long-poll a job until it finishes (or the timeout passes) and return its view."""
    response = client.get(f"/v1/jobs/{job_id}", params={"wait": timeout}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- auth on: two real tenants, Alice and Bob ------------------------------------------------------
# Tenants live in the database, so ``alice`` and ``bob`` serve any app built on this test's
# ``database_url``, whatever its other settings.
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
