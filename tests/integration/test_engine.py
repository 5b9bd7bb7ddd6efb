"""The in-process worker: outputs, memory ceiling, draining, retention, and the expiry sweeper."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.conftest import make_settings

from mediaforge.assets import service as assets
from mediaforge.assets.models import Asset
from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.engine.sweeper import Sweeper
from mediaforge.engine.worker import Worker
from mediaforge.events.models import Event
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.schemas import JobCreate, JobRow
from mediaforge.processors.registry import default_registry
from mediaforge.runtime import Runtime
from mediaforge.storage import BlobNotFound

OWNER = "engine"


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[Worker]:
    w = Worker(runtime, concurrency=1)
    w.start()
    yield w
    w.stop(drain_timeout=5)


def submit(rt: Runtime, type: str, **fields: object) -> str:
    with rt.db.session() as session:
        job, _ = jobs.create(
            session,
            OWNER,
            JobCreate.model_validate({"type": type, **fields}),
            registry=rt.registry,
            settings=rt.settings,
        )
        return job.id


def wait_job(rt: Runtime, job_id: str, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with rt.db.session(read_only=True) as session:
            job = session.get_one(Job, job_id)
        if job.status in ("succeeded", "failed", "cancelled", "expired") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def upload(rt: Runtime, tmp_path: Path, data: bytes = b"hello mediaforge") -> str:
    source = tmp_path / "input.txt"
    source.write_bytes(data)
    with rt.db.session() as session:
        return assets.ingest_file(
            session, rt.storage, rt.settings, owner_id=OWNER, path=source, filename="input.txt"
        ).id


def test_outputs_are_stored_as_assets_of_the_owner(runtime: Runtime, worker: Worker, tmp_path: Path) -> None:
    """Files a processor returns become assets owned by the job's owner, linked to the job."""
    job = wait_job(runtime, submit(runtime, "debug.copy", inputs=[upload(runtime, tmp_path)]))
    with runtime.db.session(read_only=True) as session:
        (output,) = [session.get_one(Asset, asset_id) for asset_id in job.outputs]
    assert ("succeeded", OWNER, job.id) == (job.status, output.owner_id, output.job_id)
    assert b"hello mediaforge" == runtime.storage.read(output.storage_key)


def test_memory_ceiling_fails_the_job_not_the_worker(tmp_path: Path, database_url: str) -> None:
    """A processor allocating past the ceiling fails with out_of_memory; the worker keeps working."""
    rt = Runtime.from_settings(make_settings(tmp_path, database_url, worker_memory_limit_mb=400))
    w = Worker(rt, concurrency=1)
    w.start()
    try:
        hog = wait_job(rt, submit(rt, "debug.sleep", params={"allocate_mb": 2048}))
        after = wait_job(rt, submit(rt, "debug.sleep"))
    finally:
        w.stop(drain_timeout=5)
        rt.close()
    assert ("failed", "out_of_memory", 1) == (hog.status, (hog.error or {}).get("type"), hog.attempt)
    assert "succeeded" == after.status


def test_stop_drains_the_running_job(runtime: Runtime) -> None:
    """Stopping a worker lets its running job finish before it exits."""
    w = Worker(runtime, concurrency=1)
    w.start()
    job_id = submit(runtime, "debug.sleep", params={"seconds": 1.0})
    deadline = time.monotonic() + 20
    while wait_job(runtime, job_id, timeout=0).status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    w.stop(drain_timeout=20)
    assert "succeeded" == wait_job(runtime, job_id, timeout=0).status


def test_results_expire_and_their_outputs_are_deleted(tmp_path: Path, database_url: str) -> None:
    """After the retention period the job is expired and its output blobs are gone."""
    settings: Settings = make_settings(tmp_path, database_url, result_ttl_seconds=1)
    rt = Runtime.from_settings(settings)
    w = Worker(rt, concurrency=1)
    w.start()
    try:
        job = wait_job(rt, submit(rt, "debug.copy", inputs=[upload(rt, tmp_path)]))
    finally:
        w.stop(drain_timeout=5)
    with rt.db.session() as session:
        session.get_one(Job, job.id).expires_at = utcnow() - timedelta(seconds=1)
        key = session.get_one(Asset, job.outputs[0]).storage_key
    Sweeper(rt).run()
    expired = wait_job(rt, job.id, timeout=0)
    rt.close()
    assert ("expired", []) == (expired.status, expired.outputs)
    with pytest.raises(BlobNotFound):
        rt.storage.stat(key)


def test_expired_uploads_are_swept(runtime: Runtime, tmp_path: Path) -> None:
    """The sweeper deletes the blob of an expired upload and marks its row deleted."""
    asset_id = upload(runtime, tmp_path)
    with runtime.db.session() as session:
        asset = session.get_one(Asset, asset_id)
        asset.expires_at = utcnow() - timedelta(seconds=1)
        key = asset.storage_key
    assert 1 == Sweeper(runtime).run()["assets"]
    with runtime.db.session(read_only=True) as session:
        assert session.get_one(Asset, asset_id).deleted_at is not None
    assert not runtime.storage.exists(key)


def test_children_recorded_in_batches_end_their_parent_once(runtime: Runtime) -> None:
    """Forty children finishing on four slots end their parent exactly once, counting every child."""
    w = Worker(runtime, concurrency=4)
    w.start()
    try:
        parent = wait_job(
            runtime, submit(runtime, "debug.fan_out", params={"count": 40, "child_type": "debug.noop"})
        )
    finally:
        w.stop(drain_timeout=5)
    with runtime.db.session(read_only=True) as session:
        ended = session.scalars(
            select(Event.type).where(Event.job_id == parent.id, Event.type == "job.completed")
        )
        children = Counter(session.scalars(select(Job.status).where(Job.parent_id == parent.id)))
    summary = {"total": 40, "pending": 0, "processing": 0, "completed": 40, "failed": 0}
    assert ("succeeded", summary, 1) == (parent.status, (parent.result or {})["children"], len(list(ended)))
    assert {"succeeded": 40} == children


def test_a_raising_success_hook_does_not_stop_the_worker(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job whose on_success hook raises is not recorded; the jobs queued after it still succeed."""
    failing: list[str] = []

    def hook(session: Session, job: JobRow) -> None:
        if job.id in failing:
            raise RuntimeError("the hook failed")

    registries = {id(runtime.registry): runtime.registry, id(default_registry()): default_registry()}
    for registry in registries.values():
        processor = registry.get("debug.noop")
        monkeypatch.setitem(registry._by_name, "debug.noop", replace(processor, on_success=hook))
    failing.append(submit(runtime, "debug.noop"))
    others = [submit(runtime, "debug.noop") for _ in range(3)]
    w = Worker(runtime, concurrency=1)
    w.start()
    try:
        ended = [wait_job(runtime, job_id).status for job_id in others]
    finally:
        w.stop(drain_timeout=5)
    assert ["succeeded"] * 3 == ended
    assert "succeeded" != wait_job(runtime, failing[0], timeout=0).status
