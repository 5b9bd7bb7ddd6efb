"""Tenancy over HTTP: another tenant's ids are 404 on every native route, admins see everyone's data,
private routes need a credential, and scopes and guests are held to what they may do.

The walk is driven by the app's own route table: a new ``/v1`` route that takes an id fails
``test_every_v1_route_with_an_id_is_walked_or_exempt`` until it is added to ``ID_ROUTES`` (or, with a
reason, to ``EXEMPT``), and a new route without an id fails the anonymous walk unless it answers 401.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tests.accounts import Tenant, make_tenant
from tests.integration.test_webhooks import Receiver, clean_webhook_tables, webhook_settings

from mediaforge.app import create_app
from mediaforge.config import Settings

NOBODY = "nobody"  # a queue no worker serves: jobs stay queued

Route = tuple[str, str]
"""``(method, path)`` as the app declares it; websockets have the method ``WEBSOCKET``."""

ID_ROUTES: dict[Route, dict[str, Any] | None] = {
    ("GET", "/v1/jobs/{job_id}"): None,
    ("POST", "/v1/jobs/{job_id}/cancel"): None,
    ("POST", "/v1/jobs/{job_id}/retry"): None,
    ("GET", "/v1/jobs/{job_id}/events"): None,
    ("GET", "/v1/assets/{asset_id}"): None,
    ("GET", "/v1/assets/{asset_id}/content"): None,
    ("DELETE", "/v1/assets/{asset_id}"): None,
    ("GET", "/v1/workflows/{workflow_id}"): None,
    ("POST", "/v1/workflows/{workflow_id}/cancel"): None,
    ("POST", "/v1/workflows/{workflow_id}/resume"): None,
    ("GET", "/v1/subscriptions/{subscription_id}"): None,
    ("PATCH", "/v1/subscriptions/{subscription_id}"): {"description": "bob was here", "is_active": False},
    ("DELETE", "/v1/subscriptions/{subscription_id}"): None,
    ("POST", "/v1/subscriptions/{subscription_id}/rotate-secret"): None,
    ("GET", "/v1/subscriptions/{subscription_id}/deliveries"): None,
    ("POST", "/v1/subscriptions/{subscription_id}/replay"): {"from_event_id": 0},
    ("GET", "/v1/deliveries/{delivery_id}"): None,
    ("POST", "/v1/deliveries/{delivery_id}/replay"): None,
    ("DELETE", "/v1/keys/{key_id}"): None,
}
"""Every /v1 route that takes a resource id, with the body that gets it past validation."""

NOT_FOUND = {
    "job_id": "job_not_found",
    "asset_id": "asset_not_found",
    "workflow_id": "workflow_not_found",
    "subscription_id": "subscription_not_found",
    "delivery_id": "delivery_not_found",
    "key_id": "credential_not_found",
}

EXEMPT: dict[Route, str] = {
    ("GET", "/v1/blobs/{key:path}"): "a signed link: the signature grants access, not the caller",
    ("POST", "/v1/admin/accounts/{account_id}/credits"): "admin only: 403 to everyone else (tested below)",
    ("PATCH", "/v1/admin/accounts/{account_id}"): "admin only: 403 to everyone else (tested below)",
}

PUBLIC: dict[Route, str] = {
    ("POST", "/v1/accounts"): "sign-up",
    ("POST", "/v1/auth/login"): "trades a password for a session",
    ("POST", "/v1/auth/guest"): "a guest's first, anonymous, use",
    ("POST", "/v1/auth/device"): "device login starts before anyone has logged in",
    ("POST", "/v1/auth/device/token"): "polled with the device_code",
    ("POST", "/v1/workers/pair"): "redeemed with a pairing code",
    ("GET", "/v1/blobs/{key:path}"): "signed links",
    ("POST", "/v1/billing/stripe-webhook"): "Stripe calls it; the Stripe-Signature header is verified",
}
"""Routes anyone may call; /health, /ready and /metrics are outside /v1."""

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def v1_routes(client: TestClient) -> set[Route]:
    """Every ``/v1`` route of the client's app (HEAD mirrors GET and is left out)."""
    assert isinstance(client.app, FastAPI)
    found: set[Route] = set()
    for route in iter_route_contexts(client.app.routes):
        path = route.path or ""
        if path.startswith("/v1/"):
            found |= {(method, path) for method in (route.methods or {"WEBSOCKET"}) - {"HEAD"}}
    return found


def fill(path: str, ids: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: ids[m.group(1)], path)


def envelope(response: httpx.Response) -> tuple[int, str | None]:
    """``(status, error code)`` when the body is the native error envelope, else ``(status, None)``."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    if not isinstance(body, dict) or set(body) != {"error", "request_id"}:
        return response.status_code, None
    error = body["error"]
    if not (isinstance(error, dict) and isinstance(error.get("message"), str) and body["request_id"]):
        return response.status_code, None
    return response.status_code, error.get("code")


def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def prefix_of(key: str) -> str:
    """The lookup prefix of a token ``mf<k>_<prefix>_<secret>`` (the secret may hold ``_``)."""
    return "_".join(key.split("_", 2)[:2])


def event_types(response: httpx.Response) -> list[str]:
    """The ``event:`` names in a whole SSE body."""
    assert response.status_code == 200, response.text
    return [line[len("event: ") :] for line in response.text.splitlines() if line.startswith("event: ")]


@pytest.fixture
def api(tmp_path: Path, database_url: str, receiver: Receiver) -> Iterator[TestClient]:
    """The app with auth on, the webhook dispatcher, no job worker; streams close after a second."""
    clean_webhook_tables(database_url)
    settings = webhook_settings(
        tmp_path, database_url, receiver, auth_disabled=False, sse_max_connection_seconds=1.0
    )
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as client:
        yield client
    clean_webhook_tables(database_url)


@pytest.fixture
def admin(auth_settings: Settings) -> Tenant:
    return make_tenant(auth_settings, "root@example.com", role="admin")


@pytest.fixture
def alices(api: TestClient, alice: Tenant, receiver: Receiver) -> dict[str, str]:
    """One of each of Alice's resources, by the path parameter that names it."""
    h = alice.headers
    asset = ok(api.post("/v1/assets", files={"file": ("a.txt", b"alice's bytes", "text/plain")}, headers=h))
    workflow = ok(api.post("/v1/workflows", json={"steps": [{"id": "a", "type": "debug.noop"}]}, headers=h))
    body = {"target_url": receiver.url, "event_types": ["job.created"]}
    subscription = ok(api.post("/v1/subscriptions", json=body, headers=h))
    job = ok(api.post("/v1/jobs", json={"type": "debug.noop", "queue": NOBODY}, headers=h))
    [key] = ok(api.get("/v1/keys", headers=h))
    return {
        "job_id": job["id"],
        "asset_id": asset["id"],
        "workflow_id": workflow["id"],
        "subscription_id": subscription["id"],
        "delivery_id": delivered(api, alice, job["id"])["id"],
        "key_id": key["id"],
    }


def delivered(api: TestClient, tenant: Tenant, job_id: str) -> dict[str, Any]:
    """The delivery of the job's event to the tenant's subscription, once it has succeeded."""
    deadline = time.monotonic() + 15
    while True:
        items = ok(api.get("/v1/deliveries", params={"job_id": job_id}, headers=tenant.headers))["items"]
        if items and items[0]["status"] == "succeeded":
            delivery: dict[str, Any] = items[0]
            return delivery
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def seen_by(api: TestClient, tenant: Tenant, ids: dict[str, str]) -> dict[str, Any]:
    """Alice's resources as ``tenant`` reads them by id (a failed read shows as its status and body)."""

    def read(path: str) -> Any:
        response = api.get(path, headers=tenant.headers)
        return response.json() if response.status_code == 200 else (response.status_code, response.text)

    asset = read(f"/v1/assets/{ids['asset_id']}")
    if isinstance(asset, dict):
        del asset["url"]  # signed afresh on every read
    content = api.get(f"/v1/assets/{ids['asset_id']}/content", headers=tenant.headers)
    sub = f"/v1/subscriptions/{ids['subscription_id']}"
    return {
        "job": read(f"/v1/jobs/{ids['job_id']}"),
        "asset": asset,
        "content": (content.status_code, content.content),
        "workflow": read(f"/v1/workflows/{ids['workflow_id']}"),
        "subscription": read(sub),
        "deliveries": read(f"{sub}/deliveries"),
        "delivery": read(f"/v1/deliveries/{ids['delivery_id']}"),
    }


# --- the walk --------------------------------------------------------------------------------------
def test_every_v1_route_with_an_id_is_walked_or_exempt(api: TestClient) -> None:
    """The routes taking a path parameter are exactly those the walk covers plus the justified exemptions."""
    with_ids = {route for route in v1_routes(api) if "{" in route[1]}
    assert sorted(set(ID_ROUTES) | set(EXEMPT)) == sorted(with_ids)


def test_another_tenants_ids_are_404_on_every_route(
    api: TestClient, alices: dict[str, str], alice: Tenant, bob: Tenant
) -> None:
    """Bob gets the native 404 envelope on every route given one of Alice's ids; her data is unchanged."""
    before = seen_by(api, alice, alices), api.get("/v1/keys", headers=alice.headers).json()
    answers = {
        (method, path): envelope(api.request(method, fill(path, alices), json=body, headers=bob.headers))
        for (method, path), body in ID_ROUTES.items()
    }
    after = seen_by(api, alice, alices), api.get("/v1/keys", headers=alice.headers).json()
    expected = {(method, path): (404, NOT_FOUND[_PARAM.findall(path)[0]]) for method, path in ID_ROUTES}
    assert expected == answers
    assert before == after


def test_admin_routes_refuse_a_user_with_403(api: TestClient, alice: Tenant, bob: Tenant) -> None:
    """Bob cannot grant credits to Alice's account or make it an admin; her account stays as it was."""
    h = alice.headers
    before = ok(api.get("/v1/accounts/me", headers=h)), ok(api.get("/v1/credits", headers=h))
    grant = api.post(
        f"/v1/admin/accounts/{alice.account_id}/credits",
        json={"amount": 1000, "reason": "bob"},
        headers=bob.headers,
    )
    promote = api.patch(f"/v1/admin/accounts/{alice.account_id}", json={"role": "admin"}, headers=bob.headers)
    after = ok(api.get("/v1/accounts/me", headers=h)), ok(api.get("/v1/credits", headers=h))
    assert [(403, "insufficient_scope")] * 2 == [envelope(grant), envelope(promote)]
    assert before == after


# --- admins ----------------------------------------------------------------------------------------
def test_an_admin_reads_alices_resources_by_id(
    api: TestClient, alices: dict[str, str], alice: Tenant, admin: Tenant
) -> None:
    """An admin reads Alice's job, asset (and its bytes), workflow, subscription and delivery as she does."""
    assert seen_by(api, alice, alices) == seen_by(api, admin, alices)


def test_an_admin_sees_alices_items_in_lists(api: TestClient, alices: dict[str, str], admin: Tenant) -> None:
    """Alice's job, subscription, delivery and key are in an admin's lists."""
    h = admin.headers
    listed = (
        alices["job_id"] in {j["id"] for j in ok(api.get("/v1/jobs", headers=h))["items"]},
        alices["subscription_id"] in {s["id"] for s in ok(api.get("/v1/subscriptions", headers=h))["items"]},
        alices["delivery_id"] in {d["id"] for d in ok(api.get("/v1/deliveries", headers=h))["items"]},
        alices["key_id"] in {k["id"] for k in ok(api.get("/v1/keys", headers=h))},
    )
    assert (True, True, True, True) == listed


def test_an_admin_follows_alices_job_stream(
    api: TestClient, alices: dict[str, str], alice: Tenant, admin: Tenant
) -> None:
    """An admin's stream of Alice's job carries the same events as hers."""
    url = f"/v1/jobs/{alices['job_id']}/events"
    hers = event_types(api.get(url, headers=alice.headers))
    theirs = event_types(api.get(url, headers=admin.headers))
    assert (["job.created"], ["job.created"]) == (hers, theirs)


# --- lists and streams -----------------------------------------------------------------------------
def test_lists_show_bob_none_of_alices_items(api: TestClient, alices: dict[str, str], bob: Tenant) -> None:
    """Bob's job, subscription, delivery and key lists hold nothing of Alice's, even filtered by her ids."""
    h = bob.headers
    lists = {
        "jobs": ok(api.get("/v1/jobs", headers=h))["items"],
        "jobs of her workflow": ok(
            api.get("/v1/jobs", params={"workflow_id": alices["workflow_id"]}, headers=h)
        )["items"],
        "subscriptions": ok(api.get("/v1/subscriptions", headers=h))["items"],
        "deliveries": ok(api.get("/v1/deliveries", headers=h))["items"],
        "deliveries of her subscription": ok(
            api.get("/v1/deliveries", params={"subscription_id": alices["subscription_id"]}, headers=h)
        )["items"],
        "deliveries of her job": ok(
            api.get("/v1/deliveries", params={"job_id": alices["job_id"]}, headers=h)
        )["items"],
    }
    keys = [k["prefix"] for k in ok(api.get("/v1/keys", headers=h))]
    assert {name: [] for name in lists} == lists
    assert [prefix_of(bob.key)] == keys


def test_the_events_stream_shows_bob_none_of_alices_events(
    api: TestClient, alices: dict[str, str], alice: Tenant, bob: Tenant
) -> None:
    """Replayed from the first event and filtered by Alice's job or workflow, Bob's stream stays empty."""
    filters = [{"job_id": alices["job_id"]}, {"workflow_id": alices["workflow_id"]}]

    def replayed(tenant: Tenant) -> list[list[str]]:
        return [
            event_types(api.get("/v1/events", params={**f, "last_event_id": 0}, headers=tenant.headers))
            for f in filters
        ]

    hers, his = replayed(alice), replayed(bob)
    assert (True, [[], []]) == (all(hers), his)


# --- credentials, scopes, guests -------------------------------------------------------------------
def test_every_private_route_refuses_an_anonymous_caller(api: TestClient) -> None:
    """Without a credential every /v1 route but the public ones is a 401 (a websocket closes with 1008)."""
    routes = v1_routes(api)
    dummy = {name: "x" for name in NOT_FOUND} | {"account_id": "x"}
    answers: dict[Route, tuple[int, str | None]] = {}
    for method, path in sorted(routes - set(PUBLIC)):
        if method == "WEBSOCKET":
            try:
                with api.websocket_connect(fill(path, dummy)):
                    answers[(method, path)] = (101, "accepted")
            except WebSocketDisconnect as closed:
                answers[(method, path)] = (closed.code, "closed")
        else:
            answers[(method, path)] = envelope(api.request(method, fill(path, dummy)))
    expected = {r: (1008, "closed") if r[0] == "WEBSOCKET" else (401, "unauthorized") for r in answers}
    assert set(PUBLIC) <= routes
    assert expected == answers


def test_a_read_only_key_cannot_submit_jobs(api: TestClient, auth_settings: Settings) -> None:
    """A key holding only ``jobs:read`` lists jobs but is refused 403 ``insufficient_scope`` on submit."""
    reader = make_tenant(auth_settings, "carol@example.com", scopes=["jobs:read"])
    listed = api.get("/v1/jobs", headers=reader.headers)
    submitted = api.post("/v1/jobs", json={"type": "debug.noop", "queue": NOBODY}, headers=reader.headers)
    assert (200, (403, "insufficient_scope")) == (listed.status_code, envelope(submitted))


def test_a_guest_creates_jobs_but_not_subscriptions(api: TestClient, receiver: Receiver) -> None:
    """A guest's ``X-Session-Token`` submits and reads jobs; webhooks are 403 ``insufficient_scope``."""
    guest = {"X-Session-Token": ok(api.post("/v1/auth/guest"))["token"]}
    job = api.post("/v1/jobs", json={"type": "debug.noop", "queue": NOBODY}, headers=guest)
    read = api.get(f"/v1/jobs/{job.json()['id']}", headers=guest)
    listed = api.get("/v1/subscriptions", headers=guest)
    subscribed = api.post("/v1/subscriptions", json={"target_url": receiver.url}, headers=guest)
    refused = (403, "insufficient_scope")
    assert (201, 200, refused, refused) == (
        job.status_code,
        read.status_code,
        envelope(listed),
        envelope(subscribed),
    )
