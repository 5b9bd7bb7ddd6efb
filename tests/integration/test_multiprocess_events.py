"""Across processes: a job run by one `mediaforge serve` reaches an SSE client of another one.

Two servers share one PostgreSQL database: A serves the API only (``--workers 0``), B runs one work
process. The client follows A's ``/v1/events``; the job is submitted to B, which runs it; the events
are written by B and announced on the bus (PostgreSQL NOTIFY, or Redis pub/sub), which wakes A.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from tests.api.test_sse import Ev, frames, free_port, opened, read_events
from tests.integration.test_bus import REDIS_URL, require_redis

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

LIMIT = 30.0
PG = pytest.mark.postgres


@contextmanager
def serve(name: str, workers: int, env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """`mediaforge serve` in a subprocess on a free loopback port; its base URL once it answers."""
    port = free_port()
    log = (log_dir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediaforge", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + LIMIT
        while True:
            assert proc.poll() is None, (log_dir / f"{name}.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server {name} did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(LIMIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def bus_last_id(url: str) -> int:
    """What server ``url`` heard on the bus from other processes (its metrics)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = re.search(r"^mediaforge_event_bus_last_id (\S+)$", text, re.MULTILINE)
    assert found, "mediaforge_event_bus_last_id is missing from /metrics"
    return int(float(found.group(1)))


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
@pytest.mark.parametrize("bus_url", ["", REDIS_URL], ids=["postgres-notify", "redis"])
def test_a_job_run_by_one_server_reaches_a_stream_on_another(
    database_url: str, tmp_path: Path, bus_url: str
) -> None:
    """Server B runs the job; the client of server A receives its job.completed through the bus."""
    if bus_url:
        require_redis()
    env = {
        **os.environ,
        "MEDIAFORGE_DATABASE_URL": database_url,  # emptied for this test: the stream sees only its job
        "MEDIAFORGE_STORAGE_URL": (tmp_path / "blobs").as_uri(),
        "MEDIAFORGE_BUS_URL": bus_url,
        "MEDIAFORGE_LOG_JSON": "false",
        "MEDIAFORGE_AUTH_DISABLED": "true",  # loopback servers, as `make serve` runs them
        "MEDIAFORGE_SSE_HEARTBEAT_SECONDS": "0.5",
        "MEDIAFORGE_WORKER_CONCURRENCY": "1",
    }
    with ExitStack() as stack:
        a = stack.enter_context(serve("a", 0, {**env, "MEDIAFORGE_DATA_DIR": str(tmp_path / "a")}, tmp_path))
        b = stack.enter_context(serve("b", 1, {**env, "MEDIAFORGE_DATA_DIR": str(tmp_path / "b")}, tmp_path))
        with httpx.Client(timeout=LIMIT) as http, http.stream("GET", f"{a}/v1/events") as response:
            stream = frames(response)
            opened(stream)
            job = http.post(f"{b}/v1/jobs", json={"type": "debug.sleep", "params": {"seconds": 0.1}}).json()
            seen = read_events(stream, until="job.completed")
        heard = bus_last_id(a)
    done: Ev = seen[-1]
    assert ("job.completed", job["id"]) == (done.type, done.job_id)
    assert ["job.created", "job.updated"] == [e.type for e in seen[:2]]
    assert heard >= done.id
