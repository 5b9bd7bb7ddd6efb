"""Real worker processes against a shared database: no job lost, none run twice, crashes recovered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mediaforge.config import Settings
from mediaforge.events.models import Event
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.schemas import JobCreate
from mediaforge.runtime import Runtime

pytestmark = pytest.mark.slow

StartWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[StartWorker]:
    """Start ``mediaforge worker`` processes sharing the test database and blob folder."""
    procs: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "MEDIAFORGE_DATABASE_URL": settings.database_url,
        "MEDIAFORGE_DATA_DIR": str(tmp_path),
        "MEDIAFORGE_STORAGE_URL": settings.storage_url,
        "MEDIAFORGE_LEASE_SECONDS": "2",
        "MEDIAFORGE_SWEEP_INTERVAL_SECONDS": "0.3",
        "MEDIAFORGE_WORKER_POLL_SECONDS": "0.02",
        "MEDIAFORGE_RETRY_BACKOFF_SECONDS": "0.05",
        "MEDIAFORGE_LOG_LEVEL": "WARNING",
    }

    def start(name: str, lease_seconds: float = 2.0) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediaforge", "worker", "--concurrency", "1", "--name", name],
            env={**env, "MEDIAFORGE_LEASE_SECONDS": str(lease_seconds)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def status_counts(rt: Runtime) -> dict[str, int]:
    with rt.db.session(read_only=True) as session:
        return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def running_events(rt: Runtime) -> Counter[str]:
    with rt.db.session(read_only=True) as session:
        rows = session.scalars(select(Event).where(Event.type == "job.updated"))
        return Counter(e.job_id for e in rows if e.payload["status"] == "running" and e.job_id)


def completed_events(rt: Runtime) -> Counter[str]:
    with rt.db.session(read_only=True) as session:
        return Counter(session.scalars(select(Event.job_id).where(Event.type == "job.completed")))


def test_eight_workers_run_two_thousand_jobs_exactly_once(
    runtime: Runtime, start_worker: StartWorker
) -> None:
    """Eight worker processes share 2,000 jobs: every job runs once, none is lost."""
    total = 2000
    with runtime.db.session() as session:
        for _ in range(total):
            jobs.create(
                session,
                "load",
                JobCreate(type="debug.noop"),
                registry=runtime.registry,
                settings=runtime.settings,
            )
    for i in range(8):
        start_worker(f"w{i}", lease_seconds=30)  # no crash here: a lease must never lapse
    wait_until(lambda: status_counts(runtime).get("succeeded", 0) == total, 240, "all jobs to succeed")
    with runtime.db.session(read_only=True) as session:
        attempts = set(session.scalars(select(Job.attempt).distinct()))
        running = session.scalars(select(Event.payload).where(Event.type == "job.updated"))
        workers_used = {p["worker_id"] for p in running if p["status"] == "running"}
    assert {1} == attempts
    running, completed = running_events(runtime), completed_events(runtime)
    assert ({1}, total) == (set(running.values()), len(running))
    assert ({1}, total) == (set(completed.values()), len(completed))
    assert 2 <= len(workers_used)


def _children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_worker_killed_mid_job_loses_nothing(runtime: Runtime, start_worker: StartWorker) -> None:
    """SIGKILL on the worker running a job: another worker retries it and it finishes exactly once."""
    with runtime.db.session() as session:
        job, _ = jobs.create(
            session,
            "crash",
            JobCreate(type="debug.sleep", params={"seconds": 3}),
            registry=runtime.registry,
            settings=runtime.settings,
        )
    victim = start_worker("victim")

    def leased_by_victim() -> bool:
        with runtime.db.session(read_only=True) as session:
            row = session.get_one(Job, job.id)
            return row.status == "running" and row.lease_owner == "victim"

    wait_until(leased_by_victim, 30, "the victim to lease the job")
    orphans = _children_of(victim.pid)
    victim.kill()
    victim.wait(10)
    wait_until(lambda: not any(_alive(p) for p in orphans), 10, "the work process to die with its worker")
    start_worker("rescuer")

    def finished() -> bool:
        with runtime.db.session(read_only=True) as session:
            return session.get_one(Job, job.id).status == "succeeded"

    wait_until(finished, 60, "the rescuer to finish the job")
    with runtime.db.session(read_only=True) as session:
        row = session.get_one(Job, job.id)
    assert (2, None) == (row.attempt, row.error)
    assert 1 == completed_events(runtime)[job.id]
    assert 2 == running_events(runtime)[job.id]
