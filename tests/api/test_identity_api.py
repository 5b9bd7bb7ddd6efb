"""Accounts, sessions, API keys, guests, device login and worker pairing over HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from tests.accounts import Tenant, make_tenant
from tests.conftest import make_settings

from mediaforge.api.deps import GuestOrCaller
from mediaforge.app import create_app
from mediaforge.config import Settings

PASSWORD = "correct horse battery"


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


@pytest.fixture
def auth_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, auth_disabled=False)


@pytest.fixture
def app(auth_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(auth_settings, workers=0, run_migrations=False)) as c:
        yield c


@pytest.fixture
def alice(auth_settings: Settings) -> Tenant:
    return make_tenant(auth_settings, "alice@example.com", password=PASSWORD)


def login(app: TestClient, email: str = "alice@example.com", password: str = PASSWORD) -> dict[str, str]:
    response = app.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


# --- accounts and sessions -------------------------------------------------------------------------
def test_sign_up_then_log_in_then_me(app: TestClient) -> None:
    """A new account logs in with its password; the session token identifies it."""
    created = app.post("/v1/accounts", json={"email": "Carol@Example.com", "password": PASSWORD})
    assert created.status_code == 201, created.text
    session = login(app, "carol@example.com")
    me = app.get("/v1/accounts/me", headers=session).json()
    assert (created.json()["id"], "carol@example.com", "free") == (me["id"], me["email"], me["tier"])


def test_duplicate_email_is_409(app: TestClient, alice: Tenant) -> None:
    response = app.post("/v1/accounts", json={"email": "ALICE@example.com", "password": PASSWORD})
    assert error_of(response) == (409, "email_taken")


def test_wrong_password_is_401_and_says_nothing_about_the_email(app: TestClient, alice: Tenant) -> None:
    wrong = app.post("/v1/auth/login", json={"email": "alice@example.com", "password": "nope-nope"})
    unknown = app.post("/v1/auth/login", json={"email": "who@example.com", "password": "nope-nope"})
    assert error_of(wrong) == error_of(unknown) == (401, "invalid_credentials")
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_logout_stops_the_session_at_once(app: TestClient, alice: Tenant) -> None:
    session = login(app)
    assert app.get("/v1/jobs", headers=session).status_code == 200
    assert app.post("/v1/auth/logout", headers=session).status_code == 204
    assert error_of(app.get("/v1/jobs", headers=session)) == (401, "invalid_credentials")


def test_changing_the_password_ends_other_sessions(app: TestClient, alice: Tenant) -> None:
    """The session that changed the password keeps working; the others end; the new password works."""
    mine, other = login(app), login(app)
    body = {"current_password": PASSWORD, "new_password": "a much newer secret"}
    assert app.post("/v1/accounts/me/password", json=body, headers=mine).status_code == 204
    assert app.get("/v1/jobs", headers=mine).status_code == 200
    assert app.get("/v1/jobs", headers=other).status_code == 401
    assert app.post("/v1/auth/login", json={"email": alice.email, "password": PASSWORD}).status_code == 401
    login(app, password="a much newer secret")


def test_wrong_current_password_does_not_change_it(app: TestClient, alice: Tenant) -> None:
    body = {"current_password": "not it at all", "new_password": "a much newer secret"}
    response = app.post("/v1/accounts/me/password", json=body, headers=alice.headers)
    assert error_of(response) == (401, "invalid_credentials")
    login(app)


def test_repeated_failed_logins_are_throttled_with_retry_after(app: TestClient, alice: Tenant) -> None:
    """After the limit (10 a minute per IP and per email) even the right password gets 429."""
    for _ in range(10):
        bad = app.post("/v1/auth/login", json={"email": alice.email, "password": "wrong-password"})
        assert bad.status_code == 401
    blocked = app.post("/v1/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert error_of(blocked) == (429, "rate_limited")
    assert int(blocked.headers["Retry-After"]) >= 1


def test_deleting_an_account_removes_its_data_and_keys(app: TestClient, alice: Tenant) -> None:
    """Delete cascades: jobs, assets (and their blobs), keys; the key stops working."""
    asset = app.post("/v1/assets", files={"file": ("a.txt", b"hello")}, headers=alice.headers).json()
    job = app.post("/v1/jobs", json={"type": "debug.noop", "queue": "nobody"}, headers=alice.headers).json()
    admin = make_tenant(app.app.state.runtime.settings, "root@example.com", role="admin")  # type: ignore[attr-defined]
    assert app.delete("/v1/accounts/me", headers=alice.headers).status_code == 204
    assert app.get("/v1/jobs", headers=alice.headers).status_code == 401
    assert app.get(f"/v1/jobs/{job['id']}", headers=admin.headers).status_code == 404
    assert app.get(f"/v1/assets/{asset['id']}", headers=admin.headers).status_code == 404


# --- API keys --------------------------------------------------------------------------------------
def test_key_is_shown_once_listed_without_secret_and_revoked_at_once(app: TestClient, alice: Tenant) -> None:
    created = app.post("/v1/keys", json={"name": "ci", "scopes": ["jobs:read"]}, headers=alice.headers)
    assert created.status_code == 201, created.text
    key = created.json()
    headers = {"X-API-Key": key["secret"]}
    assert app.get("/v1/jobs", headers=headers).status_code == 200
    listed = app.get("/v1/keys", headers=alice.headers).json()
    assert {k["id"] for k in listed} >= {key["id"]}
    assert all("secret" not in k for k in listed)
    assert app.delete(f"/v1/keys/{key['id']}", headers=alice.headers).status_code == 204
    assert error_of(app.get("/v1/jobs", headers=headers)) == (401, "invalid_credentials")


def test_scopes_are_enforced_and_cannot_be_escalated(app: TestClient, alice: Tenant) -> None:
    reader = app.post("/v1/keys", json={"name": "r", "scopes": ["jobs:read"]}, headers=alice.headers).json()
    headers = {"Authorization": f"Bearer {reader['secret']}"}
    response = app.post("/v1/jobs", json={"type": "debug.noop"}, headers=headers)
    assert error_of(response) == (403, "insufficient_scope")
    escalate = app.post("/v1/keys", json={"name": "x", "scopes": ["*"]}, headers=headers)
    assert escalate.status_code == 403
    assert (
        app.post("/v1/keys", json={"name": "x", "scopes": ["nope"]}, headers=alice.headers).status_code == 422
    )


def test_last_used_at_is_recorded(app: TestClient, alice: Tenant) -> None:
    app.get("/v1/jobs", headers=alice.headers)
    keys = app.get("/v1/keys", headers=alice.headers).json()
    assert keys[0]["last_used_at"] is not None


def test_malformed_and_lookalike_tokens_are_401(app: TestClient, alice: Tenant) -> None:
    """A right prefix with a wrong secret, garbage, or an empty bearer: all 401, nothing leaks."""
    forged = alice.key[:17] + "A" * (len(alice.key) - 17)
    for token in (forged, "garbage", "mfk_" + "0" * 60):
        assert app.get("/v1/jobs", headers={"X-API-Key": token}).status_code == 401
    assert error_of(app.get("/v1/jobs")) == (401, "unauthorized")


def test_secrets_are_stored_hashed_and_never_logged(
    app: TestClient, auth_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither the password nor any token appears in the database or the logs in clear."""
    app.post("/v1/accounts", json={"email": "dan@example.com", "password": PASSWORD})
    session = login(app, "dan@example.com")
    key = app.post("/v1/keys", json={"name": "k"}, headers=session).json()["secret"]
    token = session["Authorization"][7:]
    engine = create_engine(auth_settings.database_url)
    with engine.connect() as conn:
        rows = [
            " ".join(map(str, row))
            for table in ("accounts", "credentials")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ]
    engine.dispose()
    dump = "\n".join(rows)
    for secret in (PASSWORD, key, token):
        assert secret not in dump
    assert hashlib.sha256(key.encode()).hexdigest() in dump
    assert "$argon2id$" in dump
    logged = capsys.readouterr()
    for secret in (PASSWORD, key, token):
        assert secret not in logged.out + logged.err


# --- guests ------------------------------------------------------------------------------------------
def test_guest_token_acts_for_a_guest_with_guest_credits(app: TestClient) -> None:
    guest = app.post("/v1/auth/guest")
    assert guest.status_code == 201
    headers = {"X-Session-Token": guest.json()["token"]}
    assert app.get("/v1/jobs", headers=headers).status_code == 200
    credits = app.get("/v1/credits", headers=headers).json()
    assert ("guest", 20) == (credits["tier"], credits["balance"])
    assert error_of(app.get("/v1/subscriptions", headers=headers)) == (403, "insufficient_scope")


# --- device login ------------------------------------------------------------------------------------
def test_device_login_pending_then_approved_once(app: TestClient, alice: Tenant) -> None:
    start = app.post("/v1/auth/device").json()
    poll = {"device_code": start["device_code"]}
    assert app.post("/v1/auth/device/token", json=poll).json()["status"] == "pending"
    session = login(app)
    decided = app.post(
        "/v1/auth/device/approve", json={"user_code": start["user_code"].lower()}, headers=session
    )
    assert decided.json() == {"status": "approved"}
    approved = app.post("/v1/auth/device/token", json=poll).json()
    assert approved["status"] == "approved"
    me = app.get("/v1/accounts/me", headers={"Authorization": f"Bearer {approved['token']}"}).json()
    assert me["id"] == alice.account_id
    assert app.post("/v1/auth/device/token", json=poll).json() == {"status": "expired", "interval": 5}


def test_device_login_denied(app: TestClient, alice: Tenant) -> None:
    start = app.post("/v1/auth/device").json()
    app.post("/v1/auth/device/deny", json={"user_code": start["user_code"]}, headers=alice.headers)
    state = app.post("/v1/auth/device/token", json={"device_code": start["device_code"]}).json()
    assert state["status"] == "denied"
    assert "token" not in state
    again = app.post("/v1/auth/device/approve", json={"user_code": start["user_code"]}, headers=alice.headers)
    assert error_of(again) == (409, "code_already_used")


def test_device_code_expires(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, auth_disabled=False, device_code_ttl_seconds=1)
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as app:
        start = app.post("/v1/auth/device").json()
        import time

        time.sleep(1.1)
        state = app.post("/v1/auth/device/token", json={"device_code": start["device_code"]}).json()
        assert state["status"] == "expired"


def test_device_polling_is_rate_limited_per_device_code(app: TestClient) -> None:
    start = app.post("/v1/auth/device").json()
    codes = [
        app.post("/v1/auth/device/token", json={"device_code": start["device_code"]}).status_code
        for _ in range(21)
    ]
    assert codes == [200] * 20 + [429]


# --- worker pairing ----------------------------------------------------------------------------------
def test_pairing_code_is_redeemed_once_for_a_worker_token(app: TestClient, alice: Tenant) -> None:
    code = app.post("/v1/workers/pairing-codes", headers=alice.headers).json()
    assert code["code"] in code["install_command"]
    paired = app.post("/v1/workers/pair", json={"code": code["code"], "name": "gpu-box"})
    assert paired.status_code == 201
    token = {"Authorization": f"Bearer {paired.json()['token']}"}
    assert paired.json()["account"]["id"] == alice.account_id
    assert error_of(app.get("/v1/jobs", headers=token)) == (403, "insufficient_scope")
    again = app.post("/v1/workers/pair", json={"code": code["code"]})
    assert error_of(again) == (401, "invalid_pairing_code")


# --- auth off ----------------------------------------------------------------------------------------
def test_auth_disabled_is_refused_on_a_public_bind(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth_disabled=True)
    for host in ("127.0.0.1", "::1", "localhost"):
        settings.check_bind(host)
    for host in ("0.0.0.0", "192.168.1.4", "example.com"):
        with pytest.raises(ValueError, match="refused"):
            settings.check_bind(host)
    Settings(data_dir=tmp_path).check_bind("0.0.0.0")


def test_first_anonymous_use_issues_a_guest_token(auth_settings: Settings) -> None:
    """A face route taking GuestOrCaller: no credential -> a new guest and X-Session-Token; resent -> same."""
    router = APIRouter()

    @router.get("/whoami")
    def whoami(who: GuestOrCaller) -> dict[str, str]:
        return {"account_id": who.account_id, "kind": who.kind}

    app = create_app(auth_settings, workers=0, run_migrations=False)
    app.include_router(router)
    with TestClient(app) as client:
        first = client.get("/whoami")
        token = first.headers["X-Session-Token"]
        again = client.get("/whoami", headers={"X-Session-Token": token})
        assert first.json() == again.json()
        assert first.json()["kind"] == "guest"
        assert "X-Session-Token" not in again.headers
        assert client.get("/whoami").json()["account_id"] != first.json()["account_id"]
