"""The credit ledger on SQLite and PostgreSQL: invariants, no overdraw under concurrency, refunds, resets."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.accounts import make_tenant
from tests.conftest import make_settings, wait_for

from mediaforge.app import create_app
from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.credits import ledger
from mediaforge.credits.models import CreditEntry
from mediaforge.db.engine import Database
from mediaforge.runtime import Runtime
from mediaforge.scheduler import run_daily, seconds_until_midnight

COSTS = {"debug.noop": 1, "debug.sleep": 2}


@pytest.fixture
def metered(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, auth_disabled=False, credit_costs=COSTS)


@pytest.fixture
def db(metered: Settings) -> Iterator[Database]:
    database = Database(metered.database_url, pool_size=20)
    yield database
    database.dispose()


def entries_sum(db: Database, account_id: str) -> int:
    with db.session(read_only=True) as session:
        total = session.scalar(
            select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(CreditEntry.account_id == account_id)
        )
        return int(total or 0)


def test_balance_is_always_the_sum_of_entries(metered: Settings, db: Database) -> None:
    """Random grants, charges (some refused) and refunds: after each, balance == sum of the entries."""
    account = make_tenant(metered, "a@example.com", tier="pro").account_id
    rng = random.Random(7)
    charged: list[str] = []
    for step in range(60):
        with db.session() as session:
            action = rng.choice(["grant", "charge", "charge", "refund"])
            if action == "grant":
                ledger.grant(session, metered, account, rng.randint(1, 20), reason="top-up")
            elif action == "charge":
                job_id = f"job-{step}"
                try:
                    ledger.charge(
                        session, metered, account, [ledger.Charge(rng.randint(1, 15), "op", job_id)]
                    )
                    charged.append(job_id)
                except ledger.InsufficientCredits:
                    pass
            elif charged:
                ledger.refund_job(session, rng.choice(charged), "test")
        with db.session(read_only=True) as session:
            balance = ledger.balance(session, account)
        assert balance == entries_sum(db, account)
        assert balance >= 0


def test_refund_happens_once_and_only_for_charged_jobs(metered: Settings, db: Database) -> None:
    account = make_tenant(metered, "a@example.com").account_id
    with db.session() as session:
        ledger.charge(session, metered, account, [ledger.Charge(5, "op", "job-1")])
    with db.session() as session:
        first = ledger.refund_job(session, "job-1", "failed")
        second = ledger.refund_job(session, "job-1", "failed")
        never = ledger.refund_job(session, "job-2", "failed")
    assert (first is not None, second, never) == (True, None, None)
    with db.session(read_only=True) as session:
        assert ledger.balance(session, account) == 50


def test_concurrent_charges_never_overdraw(metered: Settings, db: Database) -> None:
    """32 threads charge 3 credits each against a balance of 50: exactly 16 succeed, nothing below 0."""
    account = make_tenant(metered, "a@example.com").account_id

    def attempt(n: int) -> bool:
        try:
            with db.session() as session:
                ledger.charge(session, metered, account, [ledger.Charge(3, "op", f"job-{n}")])
            return True
        except ledger.InsufficientCredits:
            return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(32)))
    with db.session(read_only=True) as session:
        balance = ledger.balance(session, account)
    assert (results.count(True), balance) == (16, 2)
    assert balance == entries_sum(db, account)


def test_parallel_job_requests_charge_until_402(metered: Settings) -> None:
    """Parallel POST /v1/jobs by one free account: 50 jobs created, the rest 402; the ledger agrees."""
    tenant = make_tenant(metered, "a@example.com")
    with TestClient(create_app(metered, workers=0, run_migrations=False)) as app:
        body = {"type": "debug.noop", "queue": "nobody"}

        def submit(_: int) -> int:
            return app.post("/v1/jobs", json=body, headers=tenant.headers).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(submit, range(70)))
        assert (codes.count(201), codes.count(402)) == (50, 20)
        refused = app.post("/v1/jobs", json=body, headers=tenant.headers)
        assert refused.json()["error"]["code"] == "insufficient_credits"
        assert refused.json()["error"]["details"] == {"required": 1, "available": 0}
        assert app.get("/v1/credits", headers=tenant.headers).json()["balance"] == 0
        listed = app.get("/v1/jobs", params={"limit": 200}, headers=tenant.headers).json()["items"]
        assert len(listed) == 50


def test_system_failures_are_refunded_and_bad_input_is_not(metered: Settings) -> None:
    """A job that exhausts its attempts on errors is refunded; a permanent (input) failure is not."""
    tenant = make_tenant(metered, "a@example.com")
    with TestClient(create_app(metered, workers=1, run_migrations=False)) as app:
        crash = {"type": "debug.sleep", "params": {"fail": True}, "max_attempts": 1}
        bad = {"type": "debug.sleep", "params": {"fail_permanently": True}}
        ids = [app.post("/v1/jobs", json=b, headers=tenant.headers).json()["id"] for b in (crash, bad)]
        assert [wait_for(app, i, **tenant.headers)["status"] for i in ids] == ["failed", "failed"]
        assert app.get("/v1/credits", headers=tenant.headers).json()["balance"] == 50 - 2
        kinds = [
            (e["kind"], e["job_id"]) for e in app.get("/v1/credits/ledger", headers=tenant.headers).json()
        ]
        assert ("refund", ids[0]) in kinds
        assert ("refund", ids[1]) not in kinds
        usage = app.get("/v1/credits/usage", params={"days": 3}, headers=tenant.headers).json()
        today = usage["days"][-1]
        assert (today["operations"], today["credits_charged"], today["credits_refunded"]) == (2, 4, 2)
        assert (len(usage["days"]), usage["total_credits_used"]) == (3, 2)


def test_daily_reset_sets_the_allowance_once_per_day(metered: Settings, db: Database) -> None:
    """Midnight: guests back to 20, free to 50 (no rollover); paid tiers untouched; twice is once."""
    guest = make_tenant(metered, "g@example.com", tier="guest").account_id
    free = make_tenant(metered, "f@example.com").account_id
    paid = make_tenant(metered, "p@example.com", tier="pro").account_id
    with db.session() as session:
        ledger.charge(session, metered, guest, [ledger.Charge(7, "op")])
        ledger.grant(session, metered, free, 30, reason="gift")
        ledger.grant(session, metered, paid, 1000, reason="plan")
    tomorrow = utcnow().date() + timedelta(days=1)
    rt = Runtime.from_settings(metered)
    try:
        assert run_daily(rt, tomorrow) == {"refresh_credits": 2}
        assert run_daily(rt, tomorrow) == {"refresh_credits": 0}
    finally:
        rt.close()
    with db.session(read_only=True) as session:
        balances = [ledger.balance(session, a) for a in (guest, free, paid)]
    assert balances == [20, 50, 1000]


def test_a_new_day_resets_lazily_when_the_scheduler_did_not_run(metered: Settings, db: Database) -> None:
    account = make_tenant(metered, "f@example.com").account_id
    with db.session() as session:
        ledger.charge(session, metered, account, [ledger.Charge(40, "op")])
    later = utcnow() + timedelta(days=1)
    with db.session() as session:
        assert ledger.current(session, metered, account, now=later) == 50


def test_seconds_until_midnight() -> None:
    from datetime import UTC, datetime

    assert seconds_until_midnight(datetime(2026, 11, 23, 23, 59, 30, tzinfo=UTC)) == 30
    assert seconds_until_midnight(datetime(2026, 11, 23, 0, 0, 0, tzinfo=UTC)) == 86400


def test_admin_grants_and_sets_tiers(metered: Settings) -> None:
    admin = make_tenant(metered, "root@example.com", role="admin")
    user = make_tenant(metered, "u@example.com")
    with TestClient(create_app(metered, workers=0, run_migrations=False)) as app:
        url = f"/v1/admin/accounts/{user.account_id}"
        granted = app.post(f"{url}/credits", json={"amount": 25, "reason": "support"}, headers=admin.headers)
        assert granted.status_code == 201
        assert app.patch(url, json={"tier": "pro"}, headers=admin.headers).json()["tier"] == "pro"
        assert app.get("/v1/credits", headers=user.headers).json()["balance"] == 50 + 25
        forbidden = app.post(f"{url}/credits", json={"amount": 5, "reason": "x"}, headers=user.headers)
        assert forbidden.status_code == 403
