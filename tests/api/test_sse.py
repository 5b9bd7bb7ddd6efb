"""Live events over HTTP: SSE streams and the websocket, against a real uvicorn server in a thread.

TestClient collects a whole response before returning it, so the streams here talk to uvicorn on a
free loopback port with httpx (and the ``websockets`` client), as a browser or a proxy would.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from tests.accounts import Tenant
from tests.conftest import make_settings
from websockets.sync.client import connect as ws_connect

from mediaforge.app import create_app
from mediaforge.config import Settings
from mediaforge.events import repository as events
from mediaforge.events.hub import Hub
from mediaforge.jobs import service as jobs
from mediaforge.jobs.schemas import JobCreate
from mediaforge.runtime import Runtime

NOBODY = "nobody"  # a queue no worker serves: jobs stay queued
TIMEOUT = 15.0


@dataclass
class Served:
    """A running server: its base URL and its event hub."""

    url: str
    hub: Hub

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def wait_readers(self, n: int) -> None:
        """Block until the hub has ``n`` readers (bounded)."""
        deadline = time.monotonic() + TIMEOUT
        while self.hub.readers != n:
            assert time.monotonic() < deadline, f"hub has {self.hub.readers} readers, wanted {n}"
            time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: Settings, *, workers: int = 0) -> Iterator[Served]:
    """The app under uvicorn on a free loopback port, in a thread, for the block's duration."""
    app = create_app(settings, workers=workers, run_migrations=False)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert thread.is_alive(), "server stopped while starting"
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield Served(f"http://127.0.0.1:{port}", app.state.hub)
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)


def frames(response: httpx.Response) -> Iterator[dict[str, str]]:
    """Parse an SSE body: one dict per frame (``id``, ``event``, ``data``, ``retry``) or comment."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


@dataclass(frozen=True)
class Ev:
    """An event as a client saw it."""

    id: int
    type: str
    job_id: str | None

    @classmethod
    def of(cls, frame: dict[str, str]) -> Ev:
        return cls(int(frame["id"]), frame["event"], json.loads(frame["data"]).get("id"))


def read_events(stream: Iterator[dict[str, str]], n: int | None = None, until: str | None = None) -> list[Ev]:
    """The next ``n`` events, or up to one of type ``until``, or all until the stream ends (bounded)."""
    deadline = time.monotonic() + TIMEOUT
    got: list[Ev] = []
    for frame in stream:
        if "event" in frame:
            got.append(Ev.of(frame))
            if len(got) == n or got[-1].type == until:
                break
        assert time.monotonic() < deadline, f"only {len(got)} events arrived: {got}"
    return got


def opened(stream: Iterator[dict[str, str]]) -> dict[str, str]:
    """The first frame, ``retry:``: once it arrived the stream is registered for live events."""
    first = next(stream)
    assert "retry" in first, first
    return first


@dataclass
class Writer:
    """State changes through the job service in this process, committed when each call returns.

    (Over HTTP a 201 can reach the client before the request's unit of work has committed.)
    """

    runtime: Runtime
    owner: str = "local"

    def submit(self, **body: Any) -> str:
        spec = JobCreate.model_validate({"type": "debug.noop", "queue": NOBODY, **body})
        with self.runtime.db.session() as session:
            job, _ = jobs.create(
                session, self.owner, spec, registry=self.runtime.registry, settings=self.runtime.settings
            )
            return job.id

    def cancel(self, job_id: str) -> None:
        with self.runtime.db.session() as session:
            jobs.cancel(session, jobs.get(session, job_id, self.owner), self.runtime.settings)

    def stored(self, after_id: int = 0) -> list[Ev]:
        """What the events table holds after ``after_id``: the truth a stream must match."""
        with self.runtime.db.session(read_only=True) as session:
            rows = events.since(session, after_id=after_id, owner_id=self.owner)
            return [Ev(e.id, e.type, e.job_id) for e in rows]

    def newest(self) -> int:
        with self.runtime.db.session(read_only=True) as session:
            return events.last_id(session)


@pytest.fixture
def writer(runtime: Runtime) -> Writer:
    return Writer(runtime)


@pytest.fixture
def make(tmp_path: Path, database_url: str) -> Callable[..., Settings]:
    """Settings for this test's database with overrides (heartbeats keep read timeouts from firing)."""

    def build(**overrides: Any) -> Settings:
        return make_settings(tmp_path, database_url, **{"sse_heartbeat_seconds": 0.5, **overrides})

    return build


# --- job streams ---------------------------------------------------------------------------------
def test_a_job_stream_runs_from_created_to_completed_then_closes(
    make: Callable[..., Settings], writer: Writer
) -> None:
    """``/v1/jobs/{id}/events`` replays from job.created, follows live, and ends after job.completed."""
    with serving(make(), workers=1) as served, served.client() as api:
        job_id = writer.submit(type="debug.sleep", params={"seconds": 0.3}, queue=None)
        with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            seen = read_events(frames(response))  # returns only when the server closes the stream
    types = [e.type for e in seen]
    assert ("job.created", "job.completed") == (types[0], types[-1])
    assert "job.updated" in types
    assert {job_id} == {e.job_id for e in seen}
    assert sorted(e.id for e in seen) == [e.id for e in seen]


def test_a_finished_job_replays_and_closes_then_answers_204_when_nothing_is_left(
    make: Callable[..., Settings], writer: Writer
) -> None:
    """A stream opened after the end replays and closes; resuming after its last event is a 204."""
    with serving(make()) as served, served.client() as api:
        job_id = writer.submit()
        writer.cancel(job_id)
        with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            seen = read_events(frames(response))
        again = api.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(seen[-1].id)})
    assert ["job.created", "job.cancelled"] == [e.type for e in seen]
    assert 204 == again.status_code


# --- /v1/events ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("job_id={a}", lambda e, a, b: e.job_id == a),
        ("job_id={a}&job_id={b}", lambda e, a, b: e.job_id in (a, b)),
        ("types=job.cancelled", lambda e, a, b: e.type == "job.cancelled"),
        ("types=job.*", lambda e, a, b: True),
        ("", lambda e, a, b: True),
    ],
    ids=["one-job", "two-jobs", "types", "type-family", "everything"],
)
def test_the_events_stream_sends_what_its_filter_matches(
    make: Callable[..., Settings], writer: Writer, query: str, wanted: Callable[[Ev, str, str], bool]
) -> None:
    """``/v1/events`` filtered by job ids or types (or not at all) sends exactly the matching events."""
    with serving(make()) as served, served.client() as api:
        a, b = writer.submit(), writer.submit()  # before the stream opens: not sent
        with api.stream("GET", "/v1/events?" + query.format(a=a, b=b)) as response:
            stream = frames(response)
            opened(stream)
            before = writer.newest()
            c = writer.submit()
            for job_id in (b, a, c):
                writer.cancel(job_id)
            expected = [e for e in writer.stored(before) if wanted(e, a, b)]
            got = read_events(stream, len(expected))
    assert expected
    assert expected == got


def test_resuming_with_last_event_id_gets_exactly_the_missed_events_in_order(
    make: Callable[..., Settings], writer: Writer
) -> None:
    """Disconnect after one event, let more happen, resume with Last-Event-ID: the missed ones, in order."""
    with serving(make()) as served, served.client() as api:
        with api.stream("GET", "/v1/events") as response:
            stream = frames(response)
            opened(stream)
            first_job = writer.submit()
            [first] = read_events(stream, 1)
        served.wait_readers(0)
        later = [writer.submit(), writer.submit()]
        writer.cancel(first_job)
        writer.cancel(later[0])
        missed = writer.stored(first.id)
        with api.stream("GET", "/v1/events", headers={"Last-Event-ID": str(first.id)}) as response:
            stream = frames(response)
            opened(stream)
            resumed = read_events(stream, len(missed))
            newest = writer.submit()
            [after] = read_events(stream, 1)
    assert ("job.created", first_job) == (first.type, first.job_id)
    assert 4 == len(missed)
    assert missed == resumed
    assert ("job.created", newest) == (after.type, after.job_id)


def test_last_event_id_as_a_query_parameter_resumes_too(
    make: Callable[..., Settings], writer: Writer
) -> None:
    """``?last_event_id=`` does what the header does, for clients that cannot set headers."""
    with serving(make()) as served, served.client() as api:
        submitted = [writer.submit() for _ in range(3)]
        start = writer.stored()[0].id
        with api.stream("GET", f"/v1/events?last_event_id={start}") as response:
            resumed = read_events(frames(response), 2)
    assert submitted[1:] == [e.job_id for e in resumed]


# --- the stream's protocol ----------------------------------------------------------------------
def test_the_stream_starts_with_retry_and_disables_caching_and_buffering(
    make: Callable[..., Settings],
) -> None:
    """Headers for proxies (no-cache, X-Accel-Buffering: no), the media type, then ``retry:``."""
    with (
        serving(make(sse_retry_ms=1500)) as served,
        served.client() as api,
        api.stream("GET", "/v1/events") as response,
    ):
        first = opened(frames(response))
        headers = response.headers
    assert "1500" == first["retry"]
    assert headers["content-type"].startswith("text/event-stream")
    assert ("no-cache", "no") == (headers["cache-control"], headers["x-accel-buffering"])


def test_an_idle_stream_sends_heartbeat_comments(make: Callable[..., Settings]) -> None:
    """With nothing to say, a ``: ping`` comment keeps proxies from closing the connection."""
    with (
        serving(make(sse_heartbeat_seconds=0.1)) as served,
        served.client() as api,
        api.stream("GET", "/v1/events") as response,
    ):
        stream = frames(response)
        opened(stream)
        assert {"comment": "ping"} == next(stream)


def test_the_stream_closes_after_its_maximum_lifetime(make: Callable[..., Settings]) -> None:
    """After ``sse_max_connection_seconds`` the server ends the stream and forgets the reader."""
    with serving(make(sse_max_connection_seconds=0.5)) as served, served.client() as api:
        started = time.monotonic()
        with api.stream("GET", "/v1/events") as response:
            for _ in frames(response):
                pass
        lasted = time.monotonic() - started
        served.wait_readers(0)
    assert 0.5 <= lasted < 5


def test_a_slow_reader_is_cut_off_while_another_keeps_receiving(
    make: Callable[..., Settings], writer: Writer
) -> None:
    """A client that stops reading loses its stream; a second client gets every event meanwhile."""
    with serving(make(sse_queue_size=20)) as served, served.client() as api:
        slow = SlowReader(served.url + "/v1/events")
        with api.stream("GET", "/v1/events") as response:
            stream = frames(response)
            opened(stream)
            served.wait_readers(2)
            fast: list[Ev] = []
            reader = threading.Thread(target=lambda: fast.extend(read_events(stream, until=END)))
            reader.start()
            written = write_until_cut_off(writer.runtime, served)
            reader.join(TIMEOUT)
        slow_ids, slow_tail = slow.drain()
    assert written == [e.id for e in fast]
    assert written[: len(slow_ids)] == slow_ids
    assert len(slow_ids) < len(written)
    assert b"too far behind" in slow_tail


def test_a_burst_larger_than_the_buffer_reaches_a_reader_that_keeps_up(
    make: Callable[..., Settings], writer: Writer
) -> None:
    """One commit of ten times ``sse_queue_size`` events: a reader that keeps up gets them all."""
    with (
        serving(make(sse_queue_size=20)) as served,
        served.client() as api,
        api.stream("GET", "/v1/events") as response,
    ):
        stream = frames(response)
        opened(stream)
        with writer.runtime.db.session() as session:
            for n in range(200):
                events.append(session, "job.progress", owner_id="local", payload={"n": n})
        got = read_events(stream, 200)
        readers = served.hub.readers
    assert [e.id for e in writer.stored()] == [e.id for e in got]
    assert 1 == readers


class SlowReader:
    """A raw HTTP client with a tiny receive buffer that reads the stream's first line, then stops."""

    def __init__(self, url: str) -> None:
        host_port, _, path = url.removeprefix("http://").partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((host, int(port)))
        self.sock.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        self.received = b""
        while b"retry:" not in self.received:
            self.received += self.sock.recv(4096)

    def drain(self) -> tuple[list[int], bytes]:
        """Read to the end of the connection: the event ids it got and the last bytes."""
        while chunk := self.sock.recv(65536):
            self.received += chunk
        self.sock.close()
        ids = [int(m) for m in re.findall(rb"^id: (\d+)$", self.received, re.MULTILINE)]
        return ids, self.received[-200:]


END = "job.completed"


def write_until_cut_off(runtime: Runtime, served: Served, most: int = 2000) -> list[int]:
    """Commit 16 kB events one by one until the hub has cut a reader off, then an END event."""
    written: list[int] = []
    while True:
        done = served.hub.readers < 2
        assert len(written) < most, "the slow reader was never cut off"
        with runtime.db.session() as session:
            type = END if done else "job.progress"
            events.append(session, type, owner_id="local", payload={"pad": "x" * 16_000})
        with runtime.db.session(read_only=True) as session:
            written.append(events.last_id(session))
        if done:
            return written


# --- tenants and the websocket --------------------------------------------------------------------
def test_another_tenants_job_stream_is_not_found(
    tenants: TestClient, runtime: Runtime, alice: Tenant, bob: Tenant
) -> None:
    """Bob cannot follow Alice's job (404, as for an unknown job), nor stream without a key (401)."""
    job_id = Writer(runtime, alice.account_id).submit()
    his = tenants.get(f"/v1/jobs/{job_id}/events", headers=bob.headers)
    unknown = tenants.get("/v1/jobs/no-such-job/events", headers=alice.headers)
    anonymous = tenants.get("/v1/events")
    assert (404, 404, 401) == (his.status_code, unknown.status_code, anonymous.status_code)


def test_the_websocket_delivers_events_as_json_frames(
    auth_settings: Settings, runtime: Runtime, alice: Tenant, bob: Tenant
) -> None:
    """``/v1/events/ws?api_key=`` sends each of the caller's events as ``{id, type, data}``."""
    with serving(auth_settings, workers=1) as served:
        ws_url = served.url.replace("http://", "ws://") + f"/v1/events/ws?api_key={alice.key}"
        with ws_connect(ws_url, open_timeout=TIMEOUT) as ws:
            served.wait_readers(1)
            Writer(runtime, bob.account_id).submit()  # not Alice's
            job_id = Writer(runtime, alice.account_id).submit(queue=None)
            got: list[dict[str, Any]] = []
            while not got or got[-1]["type"] != "job.completed":
                got.append(json.loads(ws.recv(timeout=TIMEOUT)))
    assert "job.created" == got[0]["type"]
    assert {job_id} == {m["data"]["id"] for m in got}
    assert sorted(m["id"] for m in got) == [m["id"] for m in got]


def test_the_websocket_refuses_a_wrong_key(auth_settings: Settings) -> None:
    """Without a valid key the handshake is refused (HTTP 403 from the 1008 close before accept)."""
    from websockets.exceptions import InvalidStatus

    with serving(auth_settings) as served:
        ws_url = served.url.replace("http://", "ws://") + "/v1/events/ws?api_key=wrong"
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(ws_url, open_timeout=TIMEOUT)
    assert 403 == refused.value.response.status_code
