"""Webhook delivery against real local receivers, on SQLite and PostgreSQL, with real dispatchers.

Receivers are ``http.server`` and ``websockets`` servers on 127.0.0.1 whose port is the only entry of
``fetch_allow_hosts``; nothing touches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from tests.conftest import make_settings

from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.events import repository as events
from mediaforge.events.models import Event
from mediaforge.jobs import service as jobs
from mediaforge.jobs.schemas import JobCreate
from mediaforge.runtime import Runtime
from mediaforge.webhooks import fanout, verify
from mediaforge.webhooks import service as webhooks
from mediaforge.webhooks.dispatcher import Dispatcher
from mediaforge.webhooks.models import Attempt, Delivery, Subscription
from mediaforge.webhooks.repository import WebhookRepository
from mediaforge.webhooks.schemas import SubscriptionCreate
from mediaforge.webhooks.states import Transport

OWNER = "local"
WEBHOOK_TABLES = "webhook_attempts, webhook_deliveries, webhook_subscriptions"


# --- receivers -----------------------------------------------------------------------------
@dataclass
class Request:
    """What a receiver saw, and the status it answered (None: it never answered)."""

    headers: dict[str, str]
    body: bytes
    answered: int | None = None

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Never answer (until the receiver shuts down): the sender dies or times out mid-request."""


class Receiver:
    """An HTTP webhook receiver answering from a script (then 200), recording every request."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.default = Reply()
        self.requests: list[Request] = []
        self.changed = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = Request({k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.changed:
                    reply = receiver.script.pop(0) if receiver.script else receiver.default
                    receiver.requests.append(request)
                    receiver.changed.notify_all()
                if reply.hang:
                    receiver.release.wait(30)
                    return
                self.send_response(reply.status)
                for name, value in {"Content-Length": "2", **reply.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"ok")
                with receiver.changed:
                    request.answered = reply.status
                    receiver.changed.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # senders are killed mid-request on purpose

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def answer(self, *replies: Reply) -> None:
        with self.changed:
            self.script.extend(replies)

    def wait(self, until: Callable[[list[Request]], bool], timeout: float = 15.0) -> list[Request]:
        """Block until ``until(requests)`` holds (or fail after ``timeout``)."""
        with self.changed:
            assert self.changed.wait_for(lambda: until(self.requests), timeout), self.requests
            return list(self.requests)

    def answered(self, n: int, timeout: float = 15.0) -> list[Request]:
        return self.wait(lambda rs: sum(r.answered is not None for r in rs) >= n, timeout)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# --- the deployment under test -------------------------------------------------------------
def clean_webhook_tables(database_url: str) -> None:
    """PostgreSQL databases are shared by a test session: no subscription or delivery crosses tests."""
    if database_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {WEBHOOK_TABLES} CASCADE")
            conn.execute(
                "UPDATE webhook_cursors SET last_event_id = (SELECT COALESCE(MAX(id), 0) FROM events)"
            )


def webhook_settings(tmp_path: Path, database_url: str, receiver: Receiver, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "fetch_allow_hosts": f"127.0.0.1:{receiver.port}",
        "webhook_schedule": "0,0.2,0.2,0.2",
        "webhook_timeout_seconds": 2.0,
        "secret_key": "test-signing-key",
    }
    return make_settings(tmp_path, database_url, **{**values, **overrides})


Deploy = Callable[..., "Deployment"]


@pytest.fixture
def deploy(tmp_path: Path, database_url: str, receiver: Receiver) -> Iterator[Deploy]:
    """Build a deployment with settings overrides; its dispatchers stop at the end of the test."""
    clean_webhook_tables(database_url)
    made: list[Deployment] = []

    def build(**overrides: Any) -> Deployment:
        rt = Runtime.from_settings(webhook_settings(tmp_path, database_url, receiver, **overrides))
        made.append(Deployment(rt))
        return made[-1]

    yield build
    for deployment in made:
        deployment.stop()
        deployment.rt.close()
    clean_webhook_tables(database_url)


@pytest.fixture
def deployment(deploy: Deploy) -> Deployment:
    return deploy()


class Deployment:
    """A runtime plus the dispatchers started on it, with the helpers every test needs."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.dispatchers: list[Dispatcher] = []

    def start(self, name: str | None = None) -> Dispatcher:
        dispatcher = Dispatcher(self.rt, name=name)
        dispatcher.start()
        self.dispatchers.append(dispatcher)
        return dispatcher

    def stop(self) -> None:
        for dispatcher in self.dispatchers:
            dispatcher.stop(grace=0.5)

    def subscribe(self, url: str, **spec: Any) -> tuple[Subscription, str]:
        with self.rt.db.session() as session:
            return webhooks.create(
                session,
                OWNER,
                SubscriptionCreate(target_url=url, **spec),
                settings=self.rt.settings,
                now=utcnow(),
            )

    def emit(self, type: str = "job.completed", job_id: str = "job-1", **payload: Any) -> int:
        """Write one outbox event (as a job state change would) and return its id."""
        with self.rt.db.session() as session:
            events.append(session, type, owner_id=OWNER, payload={"id": job_id, **payload}, job_id=job_id)
        with self.rt.db.session(read_only=True) as session:
            return int(session.scalar(select(func.max(Event.id))) or 0)

    def deliveries(self) -> list[Delivery]:
        with self.rt.db.session(read_only=True) as session:
            return list(session.scalars(select(Delivery).order_by(Delivery.event_id, Delivery.id)))

    def attempts(self, delivery_id: str) -> list[Attempt]:
        with self.rt.db.session(read_only=True) as session:
            return WebhookRepository(session).attempts(delivery_id)

    def subscription(self, subscription_id: str) -> Subscription:
        with self.rt.db.session(read_only=True) as session:
            sub = WebhookRepository(session).subscription(subscription_id)
            assert sub is not None
            return sub

    def eventually(self, check: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Poll ``check`` until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while not (result := check()):
            assert time.monotonic() < deadline, "condition not reached in time"
            time.sleep(0.05)
        return result

    def settled(self, n: int, timeout: float = 15.0) -> list[Delivery]:
        """Wait for ``n`` deliveries, all finished (succeeded, failed or dead)."""

        def done() -> list[Delivery] | None:
            rows = self.deliveries()
            finished = len(rows) == n and all(d.status in ("succeeded", "failed", "dead") for d in rows)
            return rows if finished else None

        result: list[Delivery] = self.eventually(done, timeout)
        return result

    def fanned_out_past(self, event_id: int) -> None:
        """Run the fan-out until its cursor has passed ``event_id``."""

        def passed() -> bool:
            with self.rt.db.session() as session:
                fanout.fan_out(session, self.rt.settings, utcnow())
            with self.rt.db.session(read_only=True) as session:
                return WebhookRepository(session).cursor(fanout.CURSOR) >= event_id

        self.eventually(passed)


def verified(request: Request, secret: str | list[str]) -> Any:
    return verify(request.body, request.headers, secret)


# --- delivery ------------------------------------------------------------------------------
def test_an_event_reaches_its_subscriber_signed(deployment: Deployment, receiver: Receiver) -> None:
    """A matching event is POSTed once, verifiable with the subscription's secret, as ``{type, data}``."""
    sub, secret = deployment.subscribe(receiver.url, event_types=["job.*"])
    deployment.start()
    event_id = deployment.emit("job.completed", job_id="j1", status="succeeded")
    [request] = receiver.answered(1)
    [delivery] = deployment.settled(1)
    body = verified(request, secret)
    assert (delivery.id, "succeeded", 1, 200) == (
        request.id,
        delivery.status,
        delivery.attempts,
        delivery.last_status_code,
    )
    assert ("job.completed", event_id, {"id": "j1", "status": "succeeded"}) == (
        body["type"],
        body["event_id"],
        body["data"],
    )
    assert sub.id == delivery.subscription_id


def test_filters_choose_the_events_and_jobs_each_subscription_gets(
    deployment: Deployment, receiver: Receiver
) -> None:
    """Exact types, prefixes and job lists each let through only what they name."""
    exact, _ = deployment.subscribe(receiver.url, event_types=["job.failed"])
    prefix, _ = deployment.subscribe(receiver.url, event_types=["workflow.*"])
    one_job, _ = deployment.subscribe(receiver.url, job_ids=["j2"])
    deployment.start()
    deployment.emit("job.failed", job_id="j1")
    deployment.emit("job.completed", job_id="j2")
    deployment.emit("workflow.succeeded", job_id="j3")
    rows = deployment.settled(3)
    got = {(d.subscription_id, d.event_type, d.job_id) for d in rows}
    assert {
        (exact.id, "job.failed", "j1"),
        (one_job.id, "job.completed", "j2"),
        (prefix.id, "workflow.succeeded", "j3"),
    } == got


def test_500_then_200_is_one_success_under_one_webhook_id(deployment: Deployment, receiver: Receiver) -> None:
    """The retry carries the same webhook-id; the receiver sees one success and an attempt log of two."""
    _, secret = deployment.subscribe(receiver.url)
    receiver.answer(Reply(500))
    deployment.start()
    deployment.emit()
    first, second = receiver.answered(2)
    [delivery] = deployment.settled(1)
    assert [delivery.id, delivery.id] == [first.id, second.id]
    assert [500, 200] == [first.answered, second.answered]
    assert verified(first, secret) == verified(second, secret)
    assert [(1, 500), (2, 200)] == [(a.attempt, a.status_code) for a in deployment.attempts(delivery.id)]
    assert ("succeeded", 0) == (
        delivery.status,
        deployment.subscription(delivery.subscription_id or "").consecutive_failures,
    )


def test_retry_after_is_honoured(deployment: Deployment, receiver: Receiver) -> None:
    """A 429 with ``Retry-After: 1`` delays the next attempt by a second, not the schedule's 0.2 s."""
    deployment.subscribe(receiver.url)
    receiver.answer(Reply(429, {"Retry-After": "1"}))
    deployment.start()
    deployment.emit()
    deployment.settled(1)
    first, second = deployment.attempts(deployment.deliveries()[0].id)
    assert (429, 200) == (first.status_code, second.status_code)
    assert second.at - first.at >= timedelta(seconds=1)


def test_n_consecutive_failures_disable_the_subscription_with_its_reason(
    deploy: Deploy, receiver: Receiver
) -> None:
    """After ``webhook_disable_after`` failed attempts the subscription is off, with why, and gets no more."""
    deployment = deploy(webhook_disable_after=3, webhook_schedule="0" + ",0.05" * 9)
    sub, _ = deployment.subscribe(receiver.url)
    receiver.default = Reply(500)
    deployment.start()
    deployment.emit()
    [delivery] = deployment.settled(1)
    stopped = deployment.subscription(sub.id)
    assert (False, 3, "3 consecutive failed attempts (the last: HTTP 500)") == (
        stopped.is_active,
        stopped.consecutive_failures,
        stopped.disabled_reason,
    )
    assert ("dead", 3) == (delivery.status, len(receiver.requests))
    deployment.fanned_out_past(deployment.emit())
    assert 1 == len(deployment.deliveries())


def test_410_disables_the_subscription_at_once(deployment: Deployment, receiver: Receiver) -> None:
    """Gone is final: one attempt, the delivery is dead, the subscription off with the reason."""
    sub, _ = deployment.subscribe(receiver.url)
    receiver.answer(Reply(410))
    deployment.start()
    deployment.emit()
    [delivery] = deployment.settled(1)
    stopped = deployment.subscription(sub.id)
    assert ("dead", 1, False, "the target answered 410 Gone") == (
        delivery.status,
        delivery.attempts,
        stopped.is_active,
        stopped.disabled_reason,
    )


def test_an_expired_subscription_stops(deploy: Deploy, receiver: Receiver) -> None:
    """Once expired, new events are not fanned out to it and its waiting retry dies unsent."""
    deployment = deploy(webhook_schedule="0,3600")
    sub, _ = deployment.subscribe(receiver.url, ttl_seconds=3600)
    receiver.answer(Reply(503))
    deployment.start()
    deployment.emit()
    receiver.answered(1)
    [waiting] = deployment.eventually(lambda: [d for d in deployment.deliveries() if d.status == "pending"])
    with deployment.rt.db.session() as session:  # time passes: the subscription and the retry are due
        past = utcnow() - timedelta(seconds=1)
        session.execute(update(Subscription).where(Subscription.id == sub.id).values(expires_at=past))
        session.execute(update(Delivery).where(Delivery.id == waiting.id).values(next_attempt_at=past))
    deployment.fanned_out_past(deployment.emit())
    [delivery] = deployment.settled(1)
    assert ("dead", "subscription expired", 1) == (
        delivery.status,
        delivery.last_error,
        len(receiver.requests),
    )


def test_a_blocked_target_is_refused_at_delivery(deployment: Deployment, receiver: Receiver) -> None:
    """A webhook_url outside the allow-list at delivery time is never contacted: dead, ``url_blocked``."""
    other = Receiver()
    try:
        with deployment.rt.db.session() as session:
            job, _ = jobs.create(
                session,
                OWNER,
                JobCreate(type="debug.noop", queue="held"),
                registry=deployment.rt.registry,
                settings=deployment.rt.settings,
            )
            # Creation refuses such a URL; this one became unreachable later (the allow-list changed).
            job.webhook_url, job.queue = other.url, "default"
        deployment.start()
        [delivery] = deployment.settled(1)
        assert ("dead", job.id, []) == (delivery.status, delivery.job_id, other.requests)
        assert (delivery.last_error or "").startswith("url_blocked")
    finally:
        other.close()


def test_a_jobs_own_webhook_url_gets_its_filtered_events_signed_with_the_owner_secret(
    deployment: Deployment, receiver: Receiver
) -> None:
    """``webhook_events: ["job.cancelled"]`` lets only the cancel through, signed with the owner secret."""
    rt = deployment.rt
    deployment.start()
    with rt.db.session() as session:
        spec = JobCreate(type="debug.noop", webhook_url=receiver.url, webhook_events=["job.cancelled"])
        job, _ = jobs.create(session, OWNER, spec, registry=rt.registry, settings=rt.settings)
    with rt.db.session() as session:
        jobs.cancel(session, jobs.get(session, job.id, OWNER), rt.settings)
    [request] = receiver.answered(1)
    body = verified(request, webhooks.job_secret(rt.settings, OWNER))
    assert ("job.cancelled", job.id, "cancelled") == (
        body["type"],
        body["data"]["id"],
        body["data"]["status"],
    )
    assert 1 == len(deployment.settled(1))


def test_concurrent_dispatchers_deliver_each_event_exactly_once(
    deployment: Deployment, receiver: Receiver
) -> None:
    """Three dispatchers racing over forty events: forty deliveries, forty webhook-ids, one request each."""
    deployment.subscribe(receiver.url)
    for name in ("a", "b", "c"):
        deployment.start(name)
    for index in range(40):
        deployment.emit(job_id=f"j{index}")
    requests = receiver.answered(40)
    rows = deployment.settled(40)
    assert sorted(d.id for d in rows) == sorted(r.id for r in requests)
    assert 40 == len({r.id for r in requests}) == len({d.event_id for d in rows})


def test_a_dispatcher_killed_mid_delivery_loses_nothing(
    tmp_path: Path, database_url: str, deployment: Deployment, receiver: Receiver
) -> None:
    """``mediaforge worker`` is SIGKILLed while a receiver holds its request; another dispatcher
    sends that delivery again under the same webhook-id, and everything else exactly once."""
    _, secret = deployment.subscribe(receiver.url)
    receiver.answer(Reply(hang=True))
    for index in range(3):
        deployment.emit(job_id=f"before-{index}")
    env = {
        **os.environ,
        "MEDIAFORGE_DATA_DIR": str(tmp_path / "killed"),
        "MEDIAFORGE_DATABASE_URL": database_url,
        "MEDIAFORGE_STORAGE_URL": (tmp_path / "blobs").as_uri(),
        "MEDIAFORGE_FETCH_ALLOW_HOSTS": f"127.0.0.1:{receiver.port}",
        "MEDIAFORGE_WEBHOOK_CONCURRENCY": "1",
        "MEDIAFORGE_WEBHOOK_TIMEOUT_SECONDS": "2",
        "MEDIAFORGE_LEASE_SECONDS": "0.5",
        "MEDIAFORGE_LOG_JSON": "false",
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "mediaforge", "worker", "--concurrency", "1"], env=env, stdout=log, stderr=log
    )
    try:
        [held] = receiver.wait(lambda rs: len(rs) >= 1, timeout=30)
    finally:
        worker.kill()
        worker.wait()
        log.close()
    deployment.emit(job_id="while-down")
    deployment.start("survivor")
    requests = receiver.answered(4)
    rows = deployment.settled(4)
    successes = sorted(r.id for r in requests if r.answered == 200)
    assert sorted(d.id for d in rows) == successes
    assert [held.id, held.id] == [r.id for r in requests if r.id == held.id]
    assert verified(held, secret) == verified(
        next(r for r in requests if r.id == held.id and r.answered), secret
    )
    [redone] = [d for d in rows if d.id == held.id]
    log_rows = deployment.attempts(redone.id)
    assert (2, [None, 200]) == (redone.attempts, [a.status_code for a in log_rows])
    assert (log_rows[0].error or "").startswith("lease expired")


# --- websocket transport -------------------------------------------------------------------
def test_websocket_subscription_gets_signed_json_frames(deploy: Deploy) -> None:
    """The server connects out to ws://, signs the handshake, and sends the payload as one text frame."""
    from websockets.sync.server import ServerConnection, serve

    frames: list[tuple[dict[str, str], str]] = []

    def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        message = connection.recv(timeout=5)
        frames.append(({k.lower(): v for k, v in connection.request.headers.raw_items()}, str(message)))

    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        deployment = deploy(fetch_allow_hosts=f"127.0.0.1:{port}")
        _, secret = deployment.subscribe(f"ws://127.0.0.1:{port}/events", transport=Transport.WEBSOCKET)
        deployment.start()
        deployment.emit("job.completed", job_id="ws-job")
        [delivery] = deployment.settled(1)
        server.shutdown()
    [(headers, frame)] = frames
    body = verify(frame, headers, secret)
    assert (delivery.id, "succeeded", "ws-job") == (
        headers["webhook-id"],
        delivery.status,
        body["data"]["id"],
    )
    assert json.loads(frame) == body


def test_websocket_handshake_refusal_is_a_failed_attempt(deploy: Deploy) -> None:
    """A target refusing the upgrade with HTTP 503 is retried like any failed HTTP delivery."""
    from websockets.datastructures import Headers
    from websockets.http11 import Request as WsRequest
    from websockets.http11 import Response
    from websockets.sync.server import ServerConnection, serve

    refusals: list[int] = []

    def refuse_first(connection: ServerConnection, request: WsRequest) -> Response | None:
        if refusals:
            return None
        refusals.append(503)
        return Response(503, "Service Unavailable", Headers(), b"busy")

    with serve(lambda c: c.recv(timeout=5), "127.0.0.1", 0, process_request=refuse_first) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.socket.getsockname()[1]
        deployment = deploy(fetch_allow_hosts=f"127.0.0.1:{port}")
        deployment.subscribe(f"ws://127.0.0.1:{port}/", transport=Transport.WEBSOCKET)
        deployment.start()
        deployment.emit()
        [delivery] = deployment.settled(1)
        server.shutdown()
    log = deployment.attempts(delivery.id)
    assert ("succeeded", [503, 101], "busy") == (
        delivery.status,
        [a.status_code for a in log],
        log[0].response_snippet,
    )
