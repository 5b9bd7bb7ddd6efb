"""Event delivery benchmark: state change → SSE, state change → first webhook attempt, 1,000 SSE clients.

    .venv/bin/python bench/events.py [--jobs 200] [--clients 1000] [--setups sqlite,postgres,pg-2p,redis-2p]

Every setup runs real ``mediaforge serve`` subprocesses on 127.0.0.1:

- ``sqlite``: one server with two embedded work processes (in-process bus);
- ``postgres``: the same on PostgreSQL (local commits wake the hub directly, NOTIFY for the others);
- ``pg-2p`` / ``redis-2p``: server A answers the API only, server B runs the jobs; the clients follow A,
  so every event crosses processes on PostgreSQL NOTIFY or Redis pub/sub.

Measures, one setup after another:

- SSE latency: one client follows ``/v1/events``; ``--jobs`` no-ops are submitted one at a time (the
  next once the previous completed). Latency = arrival at the client minus the state change's own
  timestamp in the payload (``created_at`` for job.created, ``started_at`` for job.updated to running,
  ``finished_at`` for job.completed); one clock, one machine.
- first webhook attempt: when ``/v1/subscriptions`` answers, a subscription to job.completed points at
  a loopback receiver; latency = the receiver's arrival time minus ``finished_at``.
- held clients: ``--clients`` SSE connections to one API process, then ``--fanout`` jobs; fan-out
  latency over every (client, job.completed) pair, and the RSS of the API server process before the
  clients came and while they are held.

The markdown table goes to stdout and to ``bench/results/events-<date>.md``; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Process,
    host_load,
    log,
    markdown_table,
    owned,
    percentile,
    revision,
    temporary_postgres_database,
    wait_until,
    write_result,
)

SETUPS = {
    "sqlite": "SQLite, 1 process",
    "postgres": "PostgreSQL, 1 process",
    "pg-2p": "PostgreSQL NOTIFY, API + worker process",
    "redis-2p": "Redis pub/sub, API + worker process",
}
STAMP = {"job.created": "created_at", "job.updated": "started_at", "job.completed": "finished_at"}
SSE_GOAL_MS = 50.0
WEBHOOK_GOAL_MS = 200.0
STEP_TIMEOUT = 15.0


@dataclass
class Result:
    """What one setup measured (milliseconds, bytes)."""

    sse: dict[str, list[float]] = field(default_factory=dict)
    webhook: list[float] = field(default_factory=list)
    webhook_note: str = ""
    fanout: list[float] = field(default_factory=list)
    clients: int = 0
    complete_clients: int = 0
    connect_seconds: float = 0.0
    rss_idle: int = 0
    rss_held: int = 0
    readers_after: int = -1
    errors: list[str] = field(default_factory=list)


# --- the servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    url: str
    process: Process


@contextmanager
def serve(name: str, workers: int, env: dict[str, str], log_dir: Path) -> Iterator[Server]:
    port = free_port()
    argv = [sys.executable, "-m", "mediaforge", "serve", "--port", str(port), "--workers", str(workers)]
    with owned(Process(name, argv, env=env, log_dir=log_dir)) as process:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            process.check_alive()
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            return False

        wait_until(up, timeout=60, what=f"{name} to answer")
        yield Server(name, url, process)


@contextmanager
def servers(
    setup: str, tmp: Path, args: argparse.Namespace, hook_port: int
) -> Iterator[tuple[Server, Server]]:
    """(API server the clients follow, server jobs are submitted to) for ``setup``."""
    env = {
        **os.environ,
        "MEDIAFORGE_LOG_LEVEL": "WARNING",
        "MEDIAFORGE_LOG_JSON": "false",
        "MEDIAFORGE_AUTH_DISABLED": "true",  # loopback servers, as `make serve` runs them
        "MEDIAFORGE_WORKER_CONCURRENCY": "2",
        "MEDIAFORGE_SSE_QUEUE_SIZE": "1000",
        "MEDIAFORGE_FETCH_ALLOW_HOSTS": f"127.0.0.1:{hook_port}",
        "MEDIAFORGE_STORAGE_URL": (tmp / "blobs").as_uri(),
        "MEDIAFORGE_BUS_URL": args.redis_url if setup == "redis-2p" else "",
    }
    with ExitStack() as stack:
        if setup == "sqlite":
            env["MEDIAFORGE_DATABASE_URL"] = f"sqlite:///{tmp / 'mediaforge.db'}"
        else:
            env["MEDIAFORGE_DATABASE_URL"] = stack.enter_context(
                temporary_postgres_database(args.pg_admin_url, "mf_bench_events")
            )
        if setup in ("sqlite", "postgres"):
            one = stack.enter_context(serve(setup, 2, {**env, "MEDIAFORGE_DATA_DIR": str(tmp / "a")}, tmp))
            yield one, one
            return
        api = stack.enter_context(
            serve(f"{setup}-api", 0, {**env, "MEDIAFORGE_DATA_DIR": str(tmp / "a")}, tmp)
        )
        work = stack.enter_context(
            serve(f"{setup}-work", 2, {**env, "MEDIAFORGE_DATA_DIR": str(tmp / "b")}, tmp)
        )
        yield api, work


def rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def readers(url: str) -> int:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(r"^mediaforge_event_readers (\S+)$", text, re.MULTILINE)
    return int(float(found.group(1))) if found else -1


# --- an SSE client on raw asyncio streams (a thousand of them must stay cheap) ---------------------
class SseClient:
    """Follows ``/v1/events``; records (arrival time, event type, payload) for every event."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.new = asyncio.Event()
        self.opened = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None

    async def run(self) -> None:
        host_port = self.url.removeprefix("http://")
        host, port = host_port.split(":")
        reader, self._writer = await asyncio.open_connection(host, int(port))
        self._writer.write(f"GET /v1/events HTTP/1.1\r\nHost: {host_port}\r\n\r\n".encode())
        await self._writer.drain()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # response headers
        buffer = b""
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)  # chunked transfer coding
            if size == 0:
                return
            buffer += await reader.readexactly(size)
            await reader.readexactly(2)
            now = time.time()
            while b"\n\n" in buffer:
                frame, buffer = buffer.split(b"\n\n", 1)
                self._frame(frame, now)

    def _frame(self, frame: bytes, now: float) -> None:
        fields = dict(line.split(": ", 1) for line in frame.decode().split("\n") if ": " in line)
        if "retry" in frame.decode():
            self.opened.set()
        if "event" in fields:
            self.events.append((now, fields["event"], json.loads(fields["data"])))
            self.new.set()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()

    async def wait_for(self, job_id: str, type: str, timeout: float = STEP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not any(t == type and p.get("id") == job_id for _, t, p in self.events[-10:]):
            self.new.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{type} for {job_id} never arrived")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.new.wait(), left)


def stamp(payload: dict[str, Any], type: str) -> float | None:
    name = STAMP.get(type)
    if name is None or not payload.get(name) or (type == "job.updated" and payload["status"] != "running"):
        return None
    return datetime.fromisoformat(payload[name]).timestamp()


async def submit(http: httpx.AsyncClient, url: str) -> str:
    response = await http.post(f"{url}/v1/jobs", json={"type": "debug.noop"})
    response.raise_for_status()
    job_id: str = response.json()["id"]
    return job_id


# --- phases ----------------------------------------------------------------------------------------
async def sse_latency(api: Server, work: Server, jobs: int, result: Result) -> None:
    client = SseClient(api.url)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(client.opened.wait(), STEP_TIMEOUT)
        async with httpx.AsyncClient(timeout=STEP_TIMEOUT) as http:
            for _ in range(jobs):
                job_id = await submit(http, work.url)
                await client.wait_for(job_id, "job.completed")
                await asyncio.sleep(0.01)
    finally:
        client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    for arrived, type, payload in client.events:
        if (at := stamp(payload, type)) is not None:
            result.sse.setdefault(type, []).append((arrived - at) * 1000)


class _Hooks(BaseHTTPRequestHandler):
    arrivals: list[tuple[float, dict[str, Any]]] = []

    def do_POST(self) -> None:
        now = time.time()
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.end_headers()
        with contextlib.suppress(ValueError):
            self.arrivals.append((now, json.loads(body)))

    def log_message(self, *args: Any) -> None:
        pass


async def webhook_latency(
    api: Server, work: Server, hooks: ThreadingHTTPServer, jobs: int, result: Result
) -> None:
    async with httpx.AsyncClient(timeout=STEP_TIMEOUT) as http:
        probe = await http.get(f"{api.url}/v1/subscriptions")
        if probe.status_code == 404:
            result.webhook_note = "n/a (webhooks not available)"
            return
        target = f"http://127.0.0.1:{hooks.server_address[1]}/hook"
        made = await http.post(
            f"{api.url}/v1/subscriptions", json={"target_url": target, "event_types": ["job.completed"]}
        )
        if made.status_code != 201:
            result.webhook_note = f"n/a (subscription refused: {made.status_code} {made.text[:80]})"
            return
        _Hooks.arrivals.clear()
        for _ in range(jobs):
            job_id = await submit(http, work.url)
            deadline = time.monotonic() + STEP_TIMEOUT
            while not any(b.get("data", {}).get("id") == job_id for _, b in _Hooks.arrivals[-5:]):
                if time.monotonic() > deadline:
                    result.webhook_note = "n/a (a webhook never arrived)"
                    return
                await asyncio.sleep(0.002)
        await http.delete(f"{api.url}/v1/subscriptions/{made.json()['id']}")
    seen: set[str] = set()
    for arrived, body in _Hooks.arrivals:
        data = body.get("data", {})
        if data.get("id") in seen or not data.get("finished_at"):
            continue  # a retry or a redelivery: only first attempts count
        seen.add(data["id"])
        result.webhook.append((arrived - datetime.fromisoformat(data["finished_at"]).timestamp()) * 1000)


async def held_clients(api: Server, work: Server, n: int, fanout: int, result: Result) -> None:
    result.rss_idle = rss(api.process.popen.pid)
    clients = [SseClient(api.url) for _ in range(n)]
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    try:
        for batch in range(0, n, 100):  # a burst of a thousand SYNs would overflow the listen backlog
            for client in clients[batch : batch + 100]:
                tasks.append(asyncio.create_task(client.run()))
            await asyncio.wait_for(
                asyncio.gather(*(c.opened.wait() for c in clients[batch : batch + 100])), 60
            )
        result.connect_seconds = time.monotonic() - started
        result.clients = n
        await asyncio.sleep(1.0)
        result.rss_held = rss(api.process.popen.pid)
        async with httpx.AsyncClient(timeout=STEP_TIMEOUT) as http:
            job_ids = []
            for _ in range(fanout):
                job_ids.append(await submit(http, work.url))
                await asyncio.gather(*(c.wait_for(job_ids[-1], "job.completed", 30) for c in clients))
        for client in clients:
            got = 0
            for arrived, type, payload in client.events:
                if type == "job.completed" and payload["id"] in job_ids:
                    result.fanout.append(
                        (arrived - datetime.fromisoformat(payload["finished_at"]).timestamp()) * 1000
                    )
                    got += 1
            result.complete_clients += got == fanout
    finally:
        for client in clients:
            client.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: readers(api.url) == 0, timeout=10, what="readers to go")
    result.readers_after = readers(api.url)


def run_setup(setup: str, args: argparse.Namespace, tmp: Path, hooks: ThreadingHTTPServer) -> Result:
    result = Result()
    try:
        with servers(setup, tmp, args, hooks.server_address[1]) as (api, work):
            log(f"{setup}: SSE latency over {args.jobs} jobs")
            asyncio.run(sse_latency(api, work, args.jobs, result))
            log(f"{setup}: first webhook attempt over {args.webhook_jobs} jobs")
            asyncio.run(webhook_latency(api, work, hooks, args.webhook_jobs, result))
            if args.clients:
                log(f"{setup}: {args.clients} SSE clients held, {args.fanout} jobs fanned out")
                asyncio.run(held_clients(api, work, args.clients, args.fanout, result))
    except Exception as exc:  # one backend down must not hide the others' numbers
        log(f"{setup} failed: {exc!r}")
        result.errors.append(f"{setup}: {exc!r}")
    return result


# --- the report ------------------------------------------------------------------------------------
def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.1f}" if values else "-"


def mark(values: list[float], goal: float) -> str:
    if not values:
        return ""
    return " ✓" if percentile(values, 95) <= goal else " ✗"


def report(results: dict[str, Result], args: argparse.Namespace, header: str, loads: list[str]) -> str:
    rows = []
    for setup, r in results.items():
        every = [v for values in r.sse.values() for v in values]
        hook = (
            f"{ms(r.webhook, 50)} / {ms(r.webhook, 95)}{mark(r.webhook, WEBHOOK_GOAL_MS)}"
            if r.webhook
            else (r.webhook_note or "-")
        )
        per_client = (r.rss_held - r.rss_idle) / r.clients / 1024 if r.clients else 0
        rows.append(
            [
                SETUPS[setup],
                f"{ms(every, 50)} / {ms(every, 95)}{mark(every, SSE_GOAL_MS)}",
                hook,
                f"{ms(r.fanout, 50)} / {ms(r.fanout, 95)}" if r.fanout else "-",
                f"{r.complete_clients}/{r.clients}" if r.clients else "-",
                f"{r.rss_idle / 2**20:.0f} → {r.rss_held / 2**20:.0f} MiB ({per_client:.0f} KiB/client)"
                if r.clients
                else "-",
            ]
        )
    main = markdown_table(
        [
            "setup",
            "state change → SSE p50 / p95 ms",
            "→ first webhook attempt p50 / p95 ms",
            f"{args.clients} clients: → SSE p50 / p95 ms",
            "clients with every event",
            "API server RSS idle → held",
        ],
        rows,
    )
    detail_rows = []
    for setup, r in results.items():
        for type in STAMP:
            values = r.sse.get(type, [])
            detail_rows.append(
                [SETUPS[setup], type, str(len(values)), ms(values, 50), ms(values, 95), ms(values, 100)]
            )
    detail = markdown_table(["setup", "event", "n", "p50 ms", "p95 ms", "max ms"], detail_rows)
    errors = [e for r in results.values() for e in r.errors]
    leaks = [
        f"{SETUPS[s]}: {r.readers_after} readers left" for s, r in results.items() if r.readers_after > 0
    ]
    lines = [
        "# Event delivery benchmark",
        "",
        header,
        "",
        f"Goals: state change → SSE p95 ≤ {SSE_GOAL_MS:.0f} ms; → first webhook attempt p95 ≤ "
        f"{WEBHOOK_GOAL_MS:.0f} ms. Held clients connected in batches of 100 "
        f"({', '.join(f'{s} {r.connect_seconds:.1f} s' for s, r in results.items() if r.clients)}).",
        "",
        main,
        "",
        "By event type (single client):",
        "",
        detail,
        "",
        "Host load: " + "; ".join(loads),
    ]
    if leaks:
        lines += ["", "Readers not released after the clients left: " + "; ".join(leaks)]
    if errors:
        lines += ["", "## Errors", "", *[f"- {e}" for e in errors]]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setups", default=",".join(SETUPS), help="comma-separated: " + ", ".join(SETUPS))
    parser.add_argument("--jobs", type=int, default=200, help="jobs for the SSE latency (3 events each)")
    parser.add_argument("--webhook-jobs", type=int, default=100, help="jobs for the webhook latency")
    parser.add_argument("--clients", type=int, default=1000, help="SSE clients held at once (0: skip)")
    parser.add_argument("--fanout", type=int, default=10, help="jobs sent to the held clients")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-save", action="store_true", help="print only; no bench/results file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    if unknown := set(setups) - set(SETUPS):
        raise SystemExit(f"unknown setup(s): {', '.join(sorted(unknown))}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * args.clients + 512))  # the servers inherit it
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    measured = revision()
    loads = [f"start: {host_load()}"]
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    results: dict[str, Result] = {}
    try:
        for setup in setups:
            with tempfile.TemporaryDirectory(prefix="mf-bench-events-") as tmp:
                results[setup] = run_setup(setup, args, Path(tmp), hooks)
    finally:
        hooks.shutdown()
    loads.append(f"end: {host_load()}")
    if (after := revision()) != measured:
        measured = f"{measured}, changed during the run to {after}"
    header = (
        f"mediaforge {measured}. {args.jobs} jobs for SSE latency, {args.webhook_jobs} for webhooks, "
        f"{args.clients} held clients x {args.fanout} jobs; debug.noop, 2 work processes; "
        f"{os.cpu_count()} CPUs."
    )
    text = report(results, args, header, loads)
    print(text)
    if not args.no_save:
        log(f"saved {write_result('events', text)}")
    return 1 if any(r.errors for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
