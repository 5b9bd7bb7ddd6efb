"""``/v1/subscriptions`` and ``/v1/deliveries`` over HTTP: manage, inspect, rotate, replay, scope."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.accounts import Tenant
from tests.integration.test_webhooks import Receiver, Reply, clean_webhook_tables, webhook_settings

from mediaforge.app import create_app
from mediaforge.webhooks import verify


@pytest.fixture
def api(tmp_path: Path, database_url: str, receiver: Receiver, alice: Tenant) -> Iterator[TestClient]:
    """The app (API, webhook dispatcher, no job worker, auth on), calling as Alice unless told otherwise."""
    clean_webhook_tables(database_url)
    settings = webhook_settings(tmp_path, database_url, receiver, auth_disabled=False)
    with TestClient(create_app(settings, workers=0, run_migrations=False), headers=alice.headers) as client:
        yield client
    clean_webhook_tables(database_url)


def subscribe(api: TestClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = api.post("/v1/subscriptions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def submit(
    api: TestClient, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = api.post("/v1/jobs", json=body or {"type": "debug.noop"}, headers=headers)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def deliveries(api: TestClient, sub_id: str, n: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the subscription has ``n`` finished deliveries; newest first."""
    deadline = time.monotonic() + timeout
    while True:
        items: list[dict[str, Any]] = api.get(f"/v1/subscriptions/{sub_id}/deliveries").json()["items"]
        if len(items) >= n and all(d["status"] in ("succeeded", "failed", "dead") for d in items):
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_create_shows_the_secret_once(api: TestClient, receiver: Receiver) -> None:
    """Creation answers 201 with a ``whsec_`` secret and the defaults; reads never show it again."""
    created = subscribe(api, {"target_url": receiver.url, "description": "ci"})
    read = api.get(f"/v1/subscriptions/{created['id']}").json()
    listed = api.get("/v1/subscriptions").json()["items"]
    assert created["secret"].startswith("whsec_")
    assert (["*"], ["*"], "http", "active", "ci") == (
        created["event_types"],
        created["job_ids"],
        created["transport"],
        created["status"],
        created["description"],
    )
    assert "secret" not in read
    assert [created["id"]] == [s["id"] for s in listed]
    assert all("secret" not in s for s in listed)


def test_a_job_event_is_delivered_and_its_attempts_are_inspectable(
    api: TestClient, receiver: Receiver
) -> None:
    """A job submitted over HTTP reaches the subscriber; the delivery shows its attempt log."""
    sub = subscribe(api, {"target_url": receiver.url, "event_types": ["job.created"]})
    receiver.answer(Reply(500))
    job = submit(api)
    [item] = deliveries(api, sub["id"], 1)
    detail = api.get(f"/v1/deliveries/{item['id']}").json()
    first, second = receiver.answered(2)
    assert verify(second.body, second.headers, sub["secret"])["data"]["id"] == job["id"]
    assert (item["id"], item["id"]) == (first.id, second.id)
    assert ("succeeded", 2, job["id"], None) == (
        detail["status"],
        detail["attempts"],
        detail["job_id"],
        item["attempt_log"],
    )
    assert [(1, 500, "ok"), (2, 200, "ok")] == [
        (a["attempt"], a["status_code"], a["response_snippet"]) for a in detail["attempt_log"]
    ]
    assert all(a["latency_ms"] >= 0 for a in detail["attempt_log"])


def test_target_urls_pass_the_ssrf_guard_at_creation(api: TestClient, receiver: Receiver) -> None:
    """Loopback outside the allow-list, metadata addresses, bad schemes and transport mismatches are 400s."""
    port = receiver.port + 1 if receiver.port < 65535 else receiver.port - 1
    cases = [
        {"target_url": f"http://127.0.0.1:{port}/hook"},
        {"target_url": "http://169.254.169.254/latest/meta-data"},
        {"target_url": "ftp://example.com/hook"},
        {"target_url": receiver.url, "transport": "websocket"},
        {"target_url": f"ws://127.0.0.1:{receiver.port}/", "transport": "http"},
    ]
    got = [error_of(api.post("/v1/subscriptions", json=body)) for body in cases]
    assert [
        (400, "url_blocked"),
        (400, "url_blocked"),
        (400, "invalid_url"),
        (400, "invalid_url"),
        (400, "invalid_url"),
    ] == got


@pytest.mark.parametrize(
    "body",
    [
        {"event_types": ["job."]},
        {"event_types": []},
        {"job_ids": []},
        {"secret": "whsec_c2hvcnQ="},
        {"ttl_seconds": 60, "expires_at": "2030-01-01T00:00:00Z"},
        {"expires_at": "2030-01-01T00:00:00"},
        {"unknown": 1},
    ],
)
def test_invalid_subscriptions_are_422(api: TestClient, receiver: Receiver, body: dict[str, Any]) -> None:
    """Bad patterns, empty filters, short secrets, two expiries, naive times, unknown fields: refused."""
    response = api.post("/v1/subscriptions", json={"target_url": receiver.url, **body})
    assert (422, "validation_error") == error_of(response)


def test_another_owners_subscription_and_deliveries_are_404(
    api: TestClient, receiver: Receiver, bob: Tenant
) -> None:
    """Bob cannot see, change, rotate, replay or delete Alice's subscription or read her deliveries."""
    sub = subscribe(api, {"target_url": receiver.url})
    submit(api)
    [delivery] = deliveries(api, sub["id"], 1)
    base = f"/v1/subscriptions/{sub['id']}"
    calls = [
        api.get(base, headers=bob.headers),
        api.patch(base, json={"description": "mine"}, headers=bob.headers),
        api.post(f"{base}/rotate-secret", headers=bob.headers),
        api.get(f"{base}/deliveries", headers=bob.headers),
        api.post(f"{base}/replay", json={"from_event_id": 0}, headers=bob.headers),
        api.delete(base, headers=bob.headers),
        api.get(f"/v1/deliveries/{delivery['id']}", headers=bob.headers),
        api.post(f"/v1/deliveries/{delivery['id']}/replay", headers=bob.headers),
    ]
    assert [404] * len(calls) == [c.status_code for c in calls]
    assert [] == api.get("/v1/subscriptions", headers=bob.headers).json()["items"]
    assert [] == api.get("/v1/deliveries", headers=bob.headers).json()["items"]
    assert 200 == api.get(base).status_code


def test_bobs_events_never_reach_alices_subscription(
    api: TestClient, receiver: Receiver, bob: Tenant
) -> None:
    """Fan-out is owner-scoped: only Alice's job produces a delivery for Alice's subscription."""
    sub = subscribe(api, {"target_url": receiver.url, "event_types": ["job.created"]})
    submit(api, headers=bob.headers)
    mine = submit(api)
    [delivery] = deliveries(api, sub["id"], 1)
    assert mine["id"] == delivery["job_id"]


def test_patch_updates_filters_expiry_and_reenables(api: TestClient, receiver: Receiver) -> None:
    """PATCH changes what it names; an expiry in the past reads as expired; re-enabling clears the reason."""
    sub = subscribe(api, {"target_url": receiver.url})
    base = f"/v1/subscriptions/{sub['id']}"
    off = api.patch(base, json={"is_active": False}).json()
    on = api.patch(base, json={"is_active": True, "event_types": ["job.*"]}).json()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = api.patch(base, json={"expires_at": past}).json()
    cleared = api.patch(base, json={"expires_at": None}).json()
    assert ("disabled", "disabled by its owner") == (off["status"], off["disabled_reason"])
    assert ("active", None, ["job.*"]) == (on["status"], on["disabled_reason"], on["event_types"])
    assert ("expired", "active") == (expired["status"], cleared["status"])
    assert (400, "url_blocked") == error_of(api.patch(base, json={"target_url": "http://10.0.0.1/hook"}))


def test_ttl_sets_the_expiry(api: TestClient, receiver: Receiver) -> None:
    """``ttl_seconds`` becomes ``expires_at`` that far from now."""
    before = datetime.now(UTC)
    sub = subscribe(api, {"target_url": receiver.url, "ttl_seconds": 600})
    expires = datetime.fromisoformat(sub["expires_at"])
    assert before + timedelta(seconds=599) <= expires <= datetime.now(UTC) + timedelta(seconds=601)


def test_delete_removes_the_subscription_and_its_deliveries(api: TestClient, receiver: Receiver) -> None:
    """After DELETE (204), the subscription and its deliveries are 404."""
    sub = subscribe(api, {"target_url": receiver.url})
    submit(api)
    [delivery] = deliveries(api, sub["id"], 1)
    assert 204 == api.delete(f"/v1/subscriptions/{sub['id']}").status_code
    assert 404 == api.get(f"/v1/subscriptions/{sub['id']}").status_code
    assert 404 == api.get(f"/v1/deliveries/{delivery['id']}").status_code


def test_rotation_signs_with_both_secrets_during_the_grace_period(
    api: TestClient, receiver: Receiver
) -> None:
    """After a rotation a receiver holding either the old or the new secret verifies the next delivery."""
    sub = subscribe(api, {"target_url": receiver.url, "event_types": ["job.created"]})
    rotated = api.post(f"/v1/subscriptions/{sub['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    submit(api)
    [request] = receiver.answered(1)
    assert new != sub["secret"]
    assert 2 == len(request.headers["webhook-signature"].split())
    assert verify(request.body, request.headers, new) == verify(request.body, request.headers, sub["secret"])


def test_rotation_without_grace_drops_the_old_secret(api: TestClient, receiver: Receiver) -> None:
    """``previous_expires_in_seconds: 0`` signs with the new secret alone."""
    sub = subscribe(api, {"target_url": receiver.url, "event_types": ["job.created"]})
    given = "whsec_" + "A" * 43 + "="
    body = {"secret": given, "previous_expires_in_seconds": 0}
    rotated = api.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", json=body).json()
    submit(api)
    [request] = receiver.answered(1)
    assert (given, 1) == (rotated["secret"], len(request.headers["webhook-signature"].split()))
    verify(request.body, request.headers, given)


def test_replaying_a_delivery_resends_it_under_the_same_webhook_id(
    api: TestClient, receiver: Receiver
) -> None:
    """A succeeded delivery replayed is sent again with the same id; its attempt log grows."""
    sub = subscribe(api, {"target_url": receiver.url, "event_types": ["job.created"]})
    submit(api)
    [delivery] = deliveries(api, sub["id"], 1)
    replayed = api.post(f"/v1/deliveries/{delivery['id']}/replay")
    assert (200, "pending") == (replayed.status_code, replayed.json()["status"])
    first, second = receiver.answered(2)
    [again] = deliveries(api, sub["id"], 1)
    assert (delivery["id"], delivery["id"], 2) == (first.id, second.id, again["attempts"])


def test_replaying_a_range_sends_events_from_before_the_subscription(
    api: TestClient, receiver: Receiver
) -> None:
    """Events older than a subscription are not sent to it, until a range replay asks for them."""
    old = submit(api)
    sub = subscribe(api, {"target_url": receiver.url, "event_types": ["job.created"]})
    new = submit(api)
    [delivered] = deliveries(api, sub["id"], 1)
    response = api.post(f"/v1/subscriptions/{sub['id']}/replay", json={"from_event_id": 0})
    result = response.json()
    assert (1, 1, False) == (result["created"], result["requeued"], result["more"])
    items = deliveries(api, sub["id"], 2)
    assert new["id"] == delivered["job_id"]
    assert {old["id"], new["id"]} == {d["job_id"] for d in items}
    ids = [r.id for r in receiver.answered(3)]
    assert 2 == ids.count(delivered["id"])


def test_replaying_only_failed_skips_succeeded_deliveries(api: TestClient, receiver: Receiver) -> None:
    """``only_failed`` with a time range re-sends nothing that already succeeded."""
    sub = subscribe(api, {"target_url": receiver.url, "event_types": ["job.created"]})
    submit(api)
    deliveries(api, sub["id"], 1)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    body = {"since": since, "only_failed": True}
    result = api.post(f"/v1/subscriptions/{sub['id']}/replay", json=body).json()
    assert (0, 0) == (result["created"], result["requeued"])


def test_replay_of_a_disabled_subscription_is_a_conflict(api: TestClient, receiver: Receiver) -> None:
    """Nothing is replayed to a subscription that is off: 409 ``subscription_inactive``."""
    sub = subscribe(api, {"target_url": receiver.url, "is_active": False})
    response = api.post(f"/v1/subscriptions/{sub['id']}/replay", json={"from_event_id": 0})
    assert (409, "subscription_inactive") == error_of(response)


def test_a_jobs_webhook_url_is_signed_with_the_owner_secret(
    api: TestClient, receiver: Receiver, bob: Tenant
) -> None:
    """A job's own webhook_url gets its events, verifiable with ``/v1/webhooks/default/secret``."""
    job = submit(api, {"type": "debug.noop", "webhook_url": receiver.url, "webhook_events": ["job.created"]})
    [request] = receiver.answered(1)
    secret = api.get("/v1/webhooks/default/secret").json()["secret"]
    other = api.get("/v1/webhooks/default/secret", headers=bob.headers).json()["secret"]
    listed = api.get("/v1/deliveries", params={"job_id": job["id"]}).json()["items"]
    assert job["id"] == verify(request.body, request.headers, secret)["data"]["id"]
    assert secret != other
    assert [request.id] == [d["id"] for d in listed]
