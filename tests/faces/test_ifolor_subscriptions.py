"""Ifolor's ``/api/subscriptions`` over HTTP, and its events delivered to real local receivers
(``http.server`` and a ``websockets`` server on 127.0.0.1, allow-listed), every body checked against
the contract."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.accounts import Tenant
from tests.contract import validate
from tests.integration.test_webhooks import Receiver, Reply, clean_webhook_tables, webhook_settings

from mediaforge.app import create_app
from mediaforge.config import Settings
from mediaforge.webhooks import verify

SPEC = "ifolor-ai-backend.openapi.json"
UNKNOWN = "6f1c2a4e-0000-4000-8000-000000000000"
ALL_EVENTS = ["job.created", "job.updated", "job.completed", "job.failed"]


class WsReceiver:
    """A websocket server on 127.0.0.1 that records each text frame with its handshake headers;
    ``refuse`` makes it answer the upgrade with HTTP 503."""

    def __init__(self) -> None:
        from websockets.datastructures import Headers
        from websockets.http11 import Request, Response
        from websockets.sync.server import ServerConnection, serve

        self.frames: list[tuple[dict[str, str], str]] = []
        self.refuse = False
        self.changed = threading.Condition()

        def handler(connection: ServerConnection) -> None:
            assert connection.request is not None
            message = connection.recv(timeout=5)
            with self.changed:
                headers = {k.lower(): v for k, v in connection.request.headers.raw_items()}
                self.frames.append((headers, str(message)))
                self.changed.notify_all()

        def gate(connection: ServerConnection, request: Request) -> Response | None:
            return Response(503, "Service Unavailable", Headers(), b"busy") if self.refuse else None

        self.server = serve(handler, "127.0.0.1", 0, process_request=gate)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/events"

    def wait(self, n: int, timeout: float = 15.0) -> list[tuple[dict[str, str], str]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.frames) >= n, timeout), self.frames
            return list(self.frames)

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def ws() -> Iterator[WsReceiver]:
    r = WsReceiver()
    yield r
    r.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, receiver: Receiver, ws: WsReceiver) -> Settings:
    return webhook_settings(
        tmp_path,
        database_url,
        receiver,
        auth_disabled=False,
        fetch_allow_hosts=f"127.0.0.1:{receiver.port},127.0.0.1:{ws.port}",
        webhook_disable_after=3,
    )


@pytest.fixture
def api(settings: Settings, database_url: str, alice: Tenant) -> Iterator[TestClient]:
    """The app (API, webhook dispatcher, two work processes, auth on), calling as Alice by default."""
    clean_webhook_tables(database_url)
    with TestClient(create_app(settings, workers=2, run_migrations=False), headers=alice.headers) as client:
        yield client
    clean_webhook_tables(database_url)


def subscribe(api: TestClient, status: int = 201, **body: Any) -> dict[str, Any]:
    response = api.post("/api/subscriptions", json=body)
    assert response.status_code == status, response.text
    created: dict[str, Any] = response.json()
    validate(SPEC, "SubscriptionResponse", created)
    return created


def bad_request(api: TestClient, body: dict[str, Any]) -> str:
    response = api.post("/api/subscriptions", json=body)
    assert response.status_code == 400, response.text
    validate(SPEC, "ErrorResponse", response.json())
    return str(response.json()["detail"])


def submit(api: TestClient, **spec: Any) -> dict[str, Any]:
    response = api.post("/v1/jobs", json={"type": "debug.noop", **spec})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def settle(api: TestClient, job_id: str) -> None:
    assert api.get(f"/v1/jobs/{job_id}", params={"wait": 30}).json()["status"] == "succeeded"


def eventually(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
    return result


# --- create ------------------------------------------------------------------------------------------
def test_create_answers_201_with_the_defaults(api: TestClient, receiver: Receiver) -> None:
    """A new subscription: http transport, every job, active, no failures; the secret is not echoed."""
    created = subscribe(api, target_url=receiver.url, events=["job.completed"], secret="s3cret")
    assert {
        "target_url": receiver.url,
        "transport": "http",
        "jobs": ["*"],
        "events": ["job.completed"],
        "is_active": True,
        "expires_at": None,
        "consecutive_failures": 0,
        "disabled_reason": None,
        "description": None,
    }.items() <= created.items()
    assert "secret" not in created
    assert api.get(f"/api/subscriptions/{created['id']}").json() == created


def test_an_identical_create_answers_200_with_the_existing_one(api: TestClient, receiver: Receiver) -> None:
    """Same target, transport, events and jobs (in any order): 200 and the same id; another set: 201."""
    body = {"target_url": receiver.url, "events": ["job.completed", "job.failed"]}
    first = subscribe(api, **body)
    again = subscribe(api, 200, **{**body, "events": ["job.failed", "job.completed"]})
    other = subscribe(api, 201, **{**body, "jobs": [UNKNOWN]})
    assert (again["id"], len({first["id"], other["id"]})) == (first["id"], 2)
    assert api.get("/api/subscriptions").json()["total"] == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"transport": "carrier-pigeon"}, "transport"),
        ({"events": ["job.deleted"]}, "job.deleted"),
        ({"events": []}, "events"),
        ({"jobs": []}, "jobs"),
        ({"target_url": "not a url"}, "URL"),
        ({"target_url": "ftp://127.0.0.1/x"}, "ftp"),
        ({"target_url": "http://169.254.169.254/latest/meta-data/"}, "169.254.169.254"),
        ({"transport": "websocket"}, "ws://"),
        ({"ttl": 0}, "ttl"),
    ],
    ids=[
        "transport",
        "unknown-event",
        "no-events",
        "no-jobs",
        "malformed-url",
        "ftp-url",
        "metadata-address",
        "http-url-for-websocket",
        "zero-ttl",
    ],
)
def test_bad_subscriptions_are_400(
    api: TestClient, receiver: Receiver, body: dict[str, Any], says: str
) -> None:
    """Each wrong value is a 400 ``{detail}`` naming it, and nothing is stored."""
    full = {"target_url": receiver.url, "events": ["job.completed"], **body}
    assert says in bad_request(api, full)
    assert api.get("/api/subscriptions").json()["total"] == 0


def test_a_body_without_events_fails_validation(api: TestClient, receiver: Receiver) -> None:
    """``events`` is required: a body without it is Ninja's 422 ``{detail: [...]}``."""
    response = api.post("/api/subscriptions", json={"target_url": receiver.url})
    assert (response.status_code, type(response.json()["detail"])) == (422, list)


def test_ttl_sets_the_expiry_and_an_explicit_expires_at_wins(api: TestClient, receiver: Receiver) -> None:
    """``ttl`` is seconds from now; with both given, ``expires_at`` is kept (a naive time is UTC)."""
    before = datetime.now(UTC)
    by_ttl = subscribe(api, target_url=receiver.url, events=["job.created"], ttl=3600)
    expires = datetime.fromisoformat(by_ttl["expires_at"])
    assert before + timedelta(seconds=3590) < expires < before + timedelta(seconds=3610)
    both = subscribe(
        api, target_url=receiver.url, events=["job.failed"], ttl=60, expires_at="2031-01-02T03:04:05"
    )
    assert datetime.fromisoformat(both["expires_at"]) == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_an_expired_subscription_reads_inactive_and_gets_nothing(api: TestClient, receiver: Receiver) -> None:
    """Past ``expires_at`` it is ``is_active: false``, ``disabled_reason`` "expired", and is sent
    nothing, while a live subscription to the same target gets the same event."""
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    expired = subscribe(api, target_url=receiver.url, events=["job.created"], expires_at=past)
    live = subscribe(api, target_url=receiver.url, events=["job.created"], jobs=["*", "live"])
    submit(api, queue="nobody")
    [request] = receiver.answered(1)
    read = api.get(f"/api/subscriptions/{expired['id']}").json()
    validate(SPEC, "SubscriptionResponse", read)
    assert (read["is_active"], read["disabled_reason"]) == (False, "expired")
    assert json.loads(request.body)["subscription_id"] == live["id"]
    assert api.get(f"/v1/subscriptions/{expired['id']}/deliveries").json()["items"] == []


# --- read, list, delete ------------------------------------------------------------------------------
def test_list_filters_and_pages(api: TestClient, receiver: Receiver, ws: WsReceiver) -> None:
    """transport, event, job_id and is_active filter; page / page_size slice newest first with the total."""
    a = subscribe(api, target_url=receiver.url, events=["job.created"])
    b = subscribe(api, target_url=receiver.url, events=["job.completed"], jobs=[UNKNOWN])
    c = subscribe(api, target_url=ws.url, transport="websocket", events=["job.created", "job.failed"])
    d = subscribe(api, target_url=receiver.url, events=["job.failed"], is_active=False)

    def ids(**params: Any) -> list[str]:
        body = api.get("/api/subscriptions", params=params).json()
        validate(SPEC, "SubscriptionListResponse", body)
        return [s["id"] for s in body["items"]]

    assert ids() == [d["id"], c["id"], b["id"], a["id"]]
    assert ids(transport="websocket") == [c["id"]]
    assert ids(event="job.created") == [c["id"], a["id"]]
    assert ids(job_id=UNKNOWN) == [b["id"]]
    assert ids(is_active=False) == [d["id"]]
    assert ids(page=2, page_size=3) == [a["id"]]
    page = api.get("/api/subscriptions", params={"page": 2, "page_size": 3}).json()
    assert (page["total"], page["page"], page["page_size"]) == (4, 2, 3)


def test_delete_answers_204_and_then_404(api: TestClient, receiver: Receiver) -> None:
    """DELETE has no body; the subscription is gone for reads and deletes after it."""
    created = subscribe(api, target_url=receiver.url, events=["job.created"])
    response = api.delete(f"/api/subscriptions/{created['id']}")
    assert (response.status_code, response.content) == (204, b"")
    assert api.get(f"/api/subscriptions/{created['id']}").status_code == 404
    missing = api.delete(f"/api/subscriptions/{created['id']}")
    assert missing.status_code == 404
    validate(SPEC, "ErrorResponse", missing.json())


def test_another_tenants_subscription_is_not_found(api: TestClient, receiver: Receiver, bob: Tenant) -> None:
    """Bob neither sees, lists nor deletes Alice's subscription."""
    created = subscribe(api, target_url=receiver.url, events=["job.created"])
    assert api.get(f"/api/subscriptions/{created['id']}", headers=bob.headers).status_code == 404
    assert api.delete(f"/api/subscriptions/{created['id']}", headers=bob.headers).status_code == 404
    assert api.get("/api/subscriptions", headers=bob.headers).json()["total"] == 0
    assert api.get(f"/api/subscriptions/{created['id']}").status_code == 200


def test_a_native_subscription_is_not_an_ifolor_one(api: TestClient, receiver: Receiver) -> None:
    """Subscriptions made on /v1 speak the native payload and are not listed or found here."""
    native = api.post("/v1/subscriptions", json={"target_url": receiver.url}).json()
    assert api.get(f"/api/subscriptions/{native['id']}").status_code == 404
    assert api.get("/api/subscriptions").json()["total"] == 0


# --- delivery ----------------------------------------------------------------------------------------
def test_http_delivery_carries_the_event_and_the_job_response(api: TestClient, receiver: Receiver) -> None:
    """Each event is POSTed as ``{event, subscription_id, timestamp, job}``, signed with the secret."""
    sub = subscribe(api, target_url=receiver.url, events=ALL_EVENTS, secret="s3cret")
    made = submit(api)
    settle(api, made["id"])
    requests = receiver.wait(lambda rs: len({json.loads(r.body)["event"] for r in rs}) == 3)
    key = "whsec_" + base64.b64encode(b"s3cret").decode()
    # Deliveries travel side by side, so they may arrive in any order: the event time orders them.
    once = {r.id: verify(r.body, r.headers, key) for r in requests}  # at least once: by webhook-id
    bodies = sorted(once.values(), key=lambda b: datetime.fromisoformat(b["timestamp"]))
    for body in bodies:
        validate(SPEC, "JobResponse", body["job"])
        assert (body["subscription_id"], body["job"]["id"]) == (sub["id"], made["id"])
    assert [b["event"] for b in bodies] == ["job.created", "job.updated", "job.completed"]
    assert [b["job"]["status"] for b in bodies] == ["pending", "processing", "completed"]


def test_a_job_filter_receives_only_the_listed_jobs(api: TestClient, receiver: Receiver) -> None:
    """``jobs: [id]`` gets that job's events and no other's."""
    wanted, other = submit(api, queue="nobody"), submit(api, queue="nobody")
    subscribe(api, target_url=receiver.url, events=["job.updated"], jobs=[wanted["id"]])
    api.post(f"/api/jobs/{other['id']}/cancel")
    api.post(f"/api/jobs/{wanted['id']}/cancel")
    [request] = receiver.answered(1)
    body = json.loads(request.body)
    assert (body["event"], body["job"]["id"], body["job"]["status"]) == (
        "job.updated",
        wanted["id"],
        "cancelled",
    )
    # Deliveries are made in event order: once the later event's exists, the earlier was passed over.
    assert len(api.get(f"/v1/subscriptions/{body['subscription_id']}/deliveries").json()["items"]) == 1


def test_websocket_delivery_sends_one_signed_text_frame_per_event(api: TestClient, ws: WsReceiver) -> None:
    """The server connects out to ws://, signs the handshake and sends the payload as a text frame."""
    sub = subscribe(api, target_url=ws.url, transport="websocket", events=["job.completed"], secret="s3cret")
    made = submit(api)
    settle(api, made["id"])
    [(headers, frame)] = ws.wait(1)
    body = verify(frame, headers, "whsec_" + base64.b64encode(b"s3cret").decode())
    validate(SPEC, "JobResponse", body["job"])
    assert (body["event"], body["subscription_id"], body["job"]["status"]) == (
        "job.completed",
        sub["id"],
        "completed",
    )


def test_failures_count_up_and_disable_the_subscription(api: TestClient, ws: WsReceiver) -> None:
    """A websocket target refusing every attempt: consecutive_failures climbs, then it is disabled."""
    ws.refuse = True
    sub = subscribe(api, target_url=ws.url, transport="websocket", events=["job.created"])
    submit(api, queue="nobody")

    def disabled() -> dict[str, Any] | None:
        read: dict[str, Any] = api.get(f"/api/subscriptions/{sub['id']}").json()
        return read if not read["is_active"] else None

    read = eventually(disabled)
    validate(SPEC, "SubscriptionResponse", read)
    assert read["consecutive_failures"] == 3
    assert "3 consecutive failed attempts" in read["disabled_reason"]
    assert "HTTP 503" in read["disabled_reason"]


def test_a_success_resets_the_failure_count(api: TestClient, receiver: Receiver) -> None:
    """A failed attempt then a retry that gets through leaves no consecutive failure behind."""
    receiver.answer(Reply(500))
    sub = subscribe(api, target_url=receiver.url, events=["job.created"])
    submit(api, queue="nobody")

    def delivered() -> dict[str, Any] | None:
        items = api.get(f"/v1/subscriptions/{sub['id']}/deliveries").json()["items"]
        return items[0] if items and items[0]["status"] == "succeeded" else None

    delivery = eventually(delivered)
    log = api.get(f"/v1/deliveries/{delivery['id']}").json()["attempt_log"]
    read = api.get(f"/api/subscriptions/{sub['id']}").json()
    assert [a["status_code"] for a in log] == [500, 200]
    assert (read["consecutive_failures"], read["is_active"], read["disabled_reason"]) == (0, True, None)
