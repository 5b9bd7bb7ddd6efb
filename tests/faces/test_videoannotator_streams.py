"""VideoAnnotator's live events (``/api/v1/events/stream``) against a real uvicorn server, as EventSource
clients see them: an unnamed ``connected`` message, heartbeats, and named job events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.accounts import make_tenant
from tests.api.test_sse import TIMEOUT, Served, frames, serving
from tests.conftest import make_settings
from tests.videos import cut_clip

from mediaforge.config import Settings

PATH = "/api/v1/events/stream"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return cut_clip(tmp_path_factory.mktemp("clips") / "cut", cut_frames=[10], total_frames=20).read_bytes()


def settings_for(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    return make_settings(tmp_path, database_url, sse_heartbeat_seconds=0.2, **overrides)


def submit(server: Served, clip: bytes, **headers: str) -> str:
    with server.client(**headers) as client:
        response = client.post(
            "/api/v1/jobs/",
            files={"video": ("cut.mp4", clip, "video/mp4")},
            data={"selected_pipelines": "scene_detection"},
        )
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def messages(stream: Iterator[dict[str, str]], *, until: set[str], limit: int = 400) -> list[dict[str, Any]]:
    """Data frames as ``{"event": name or "message", **data}``, up to one named (or typed) in ``until``."""
    deadline = time.monotonic() + TIMEOUT
    got: list[dict[str, Any]] = []
    for frame in stream:
        assert time.monotonic() < deadline, got
        if "data" not in frame:
            continue
        data = json.loads(frame["data"])
        got.append({"event": frame.get("event", "message"), **data})
        if frame.get("event") in until or data.get("type") in until or len(got) >= limit:
            return got
    return got


def test_a_job_is_followed_from_pending_to_complete(tmp_path: Path, database_url: str, clip: bytes) -> None:
    """``?job_id=``: connected, the job's state at once, per-pipeline updates, then ``job.complete``."""
    with serving(settings_for(tmp_path, database_url), workers=1) as server:
        job_id = submit(server, clip)
        with server.client() as client, client.stream("GET", PATH, params={"job_id": job_id}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            got = messages(frames(response), until={"job.complete", "job.error"})
    assert got[0]["event"] == "message"
    assert got[0]["type"] == "connected"
    named = [m for m in got if m["event"] != "message"]
    assert named[-1]["event"] == "job.complete"
    assert (named[-1]["job_id"], named[-1]["status"], named[-1]["progress"]) == (job_id, "completed", 100.0)
    assert named[-1]["job"]["status"] == "completed"
    updates = [m for m in named if m["event"] == "job.update"]
    assert {m["job_id"] for m in updates} == {job_id}
    assert any(m.get("pipeline") == "scene_detection" for m in updates)


def test_cancelling_sends_job_cancelled(tmp_path: Path, database_url: str, clip: bytes) -> None:
    """A cancel reaches a job's stream as the named event ``job.cancelled``."""
    with serving(settings_for(tmp_path, database_url), workers=0) as server:
        job_id = submit(server, clip)
        with server.client() as client, client.stream("GET", PATH, params={"job_id": job_id}) as response:
            stream = frames(response)
            first = messages(stream, until={"job.update"})
            assert first[-1]["status"] == "pending"
            assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
            got = messages(stream, until={"job.cancelled"})
    assert got[-1]["event"] == "job.cancelled"
    assert (got[-1]["status"], got[-1]["error_message"]) == ("cancelled", "Job cancelled by user request")


def test_heartbeats_keep_an_idle_stream_alive(tmp_path: Path, database_url: str) -> None:
    """With nothing happening the stream sends ``{"type": "heartbeat"}`` messages."""
    with (
        serving(settings_for(tmp_path, database_url), workers=0) as server,
        server.client() as client,
        client.stream("GET", PATH) as response,
    ):
        got = messages(frames(response), until={"heartbeat"})
    assert [m["type"] for m in got] == ["connected", "heartbeat"]
    assert got[-1]["message"] == "Server is alive"


def test_a_token_in_the_query_authenticates_and_scopes_the_stream(
    tmp_path: Path, database_url: str, clip: bytes
) -> None:
    """EventSource sends ``?token=``: Alice sees her job's events, Bob's stream stays quiet."""
    settings = settings_for(tmp_path, database_url, auth_disabled=False)
    alice = make_tenant(settings, "alice@example.com")
    bob = make_tenant(settings, "bob@example.com")
    with (
        serving(settings, workers=1) as server,
        server.client() as client,
        client.stream("GET", PATH, params={"token": bob.key}) as quiet,
    ):
        bobs = frames(quiet)
        assert messages(bobs, until={"connected"})[0]["authenticated"] is True
        job_id = submit(server, clip, **alice.headers)
        with client.stream("GET", PATH, params={"token": alice.key, "job_id": job_id}) as loud:
            alices = messages(frames(loud), until={"job.complete", "job.error"})
        assert alices[-1]["event"] == "job.complete"
        heard = messages(bobs, until=set(), limit=3)
    assert [m["type"] for m in heard] == ["heartbeat"] * 3


def test_a_bad_token_is_401_and_another_tenants_job_is_404(
    tmp_path: Path, database_url: str, clip: bytes
) -> None:
    """An invalid ``?token=`` is refused before streaming; ``?job_id=`` of someone else's job is 404."""
    settings = settings_for(tmp_path, database_url, auth_disabled=False)
    alice = make_tenant(settings, "alice@example.com")
    bob = make_tenant(settings, "bob@example.com")
    with serving(settings, workers=0) as server, server.client() as client:
        job_id = submit(server, clip, **alice.headers)
        bad = client.get(PATH, params={"token": "not-a-key"})
        foreign = client.get(PATH, params={"token": bob.key, "job_id": job_id})
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "UNAUTHORIZED")
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "JOB_NOT_FOUND")


def test_without_credentials_the_stream_carries_only_heartbeats(tmp_path: Path, database_url: str) -> None:
    """Auth on and no token (the reference server accepts that): connected, then heartbeats, no job data."""
    settings = settings_for(tmp_path, database_url, auth_disabled=False)
    with serving(settings, workers=0) as server, server.client() as client:
        with client.stream("GET", PATH) as response:
            got = messages(frames(response), until=set(), limit=3)
        status = client.get("/api/v1/jobs/").status_code
    assert [m["type"] for m in got] == ["connected", "heartbeat", "heartbeat"]
    assert got[0]["authenticated"] is False
    assert status == 401


def test_reconnecting_with_last_event_id_resumes(tmp_path: Path, database_url: str, clip: bytes) -> None:
    """Each job event carries its id; a reconnect with ``Last-Event-ID`` gets what came after it."""
    with serving(settings_for(tmp_path, database_url), workers=0) as server, server.client() as client:
        job_id = submit(server, clip)
        with client.stream("GET", PATH) as response:
            stream = frames(response)
            messages(stream, until={"connected"})
            assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
            live = _named(stream, "job.cancelled")
        last = int(live[-1]["id"])
        with client.stream("GET", PATH, headers={"Last-Event-ID": str(last - 1)}) as again:
            replay = _named(frames(again), "job.cancelled")
    assert [(int(f["id"]), f["event"]) for f in replay][:1] == [(last, "job.cancelled")]
    assert json.loads(replay[0]["data"])["job_id"] == job_id


def _named(stream: Iterator[dict[str, str]], last: str) -> list[dict[str, str]]:
    deadline = time.monotonic() + TIMEOUT
    out = []
    for frame in stream:
        assert time.monotonic() < deadline
        if "event" in frame:
            out.append(frame)
            if frame["event"] == last:
                return out
    return out


def test_an_httpx_client_can_stream_with_no_redirects(tmp_path: Path, database_url: str) -> None:
    """The quick-test reads the first ``data:`` line of ``/api/v1/events/stream?token=``."""
    with (
        serving(settings_for(tmp_path, database_url), workers=0) as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT, follow_redirects=False) as client,
        client.stream("GET", PATH, params={"token": "dev-token"}) as response,
    ):
        assert response.status_code == 200
        first = next(line for line in response.iter_lines() if line.startswith("data:"))
    assert json.loads(first[5:])["type"] == "connected"
