"""The job repository and service on SQLite and PostgreSQL: claiming, fencing, leases, summaries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from mediaforge.clock import utcnow
from mediaforge.engine.sweeper import Sweeper
from mediaforge.events.models import Event
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.repository import JobRepository, claim_statement
from mediaforge.jobs.schemas import JobCreate
from mediaforge.jobs.states import IllegalTransition, JobStatus, check_transition
from mediaforge.runtime import Runtime

OWNER = "tester"


def submit(rt: Runtime, **fields: object) -> str:
    spec = JobCreate.model_validate({"type": "debug.noop", **fields})
    with rt.db.session() as session:
        job, _ = jobs.create(session, OWNER, spec, registry=rt.registry, settings=rt.settings)
        return job.id


def claim(
    rt: Runtime, worker: str = "w1", limit: int = 10, types: tuple[str, ...] = ("debug.noop",)
) -> list[Job]:
    with rt.db.session() as session:
        return JobRepository(session).claim(
            worker_id=worker,
            queues=["default"],
            types=list(types),
            limit=limit,
            lease_seconds=rt.settings.lease_seconds,
            now=utcnow(),
        )


def test_claim_takes_higher_priority_first_then_oldest(runtime: Runtime) -> None:
    """Claim order is priority descending, then submission order."""
    low, high, low2 = submit(runtime), submit(runtime, priority=5), submit(runtime)
    assert [high, low, low2] == [j.id for j in claim(runtime)]


def test_claim_never_hands_out_a_job_twice(runtime: Runtime) -> None:
    """A second claimer gets nothing while the first holds the leases."""
    ids = {submit(runtime) for _ in range(5)}
    first = claim(runtime, "w1", limit=3)
    second = claim(runtime, "w2", limit=10)
    assert ids == {j.id for j in first} | {j.id for j in second}
    assert set() == {j.id for j in first} & {j.id for j in second}


def test_claim_skips_types_the_worker_cannot_run(runtime: Runtime) -> None:
    """A worker only claims job types it advertises."""
    submit(runtime, type="debug.sleep")
    assert [] == claim(runtime, types=("debug.noop",))


def test_claim_waits_for_run_at(runtime: Runtime) -> None:
    """A job in retry backoff is not claimable before its run_at."""
    job_id = submit(runtime)
    with runtime.db.session() as session:
        session.get_one(Job, job_id).run_at = utcnow() + timedelta(hours=1)
    assert [] == claim(runtime)


def test_stale_attempt_cannot_write(runtime: Runtime) -> None:
    """The attempt number fences a worker whose lease was taken over."""
    submit(runtime)
    (job,) = claim(runtime, "w1")
    with runtime.db.session() as session:
        repo = JobRepository(session)
        assert repo.update_leased(job.id, "w1", job.attempt + 1, {"progress": 50.0}) is None
        assert repo.update_leased(job.id, "w2", job.attempt, {"progress": 50.0}) is None
        assert repo.update_leased(job.id, "w1", job.attempt, {"progress": 50.0}) is not None


def test_expired_lease_is_retried_then_failed(runtime: Runtime) -> None:
    """The sweeper re-queues a job whose worker vanished, and fails it after the last attempt."""
    job_id = submit(runtime, max_attempts=2)
    for expected in (JobStatus.QUEUED, JobStatus.FAILED):
        with runtime.db.session() as session:
            session.get_one(Job, job_id).run_at = utcnow() - timedelta(seconds=1)
        claim(runtime, "ghost")
        with runtime.db.session() as session:
            session.get_one(Job, job_id).lease_expires_at = utcnow() - timedelta(seconds=1)
        Sweeper(runtime).run()
        with runtime.db.session() as session:
            job = session.get_one(Job, job_id)
            assert (expected, "worker_lost") == (job.status, (job.error or {}).get("type"))


def test_start_deadline_cancels_a_queued_job(runtime: Runtime) -> None:
    """A job not started before cancel_after is cancelled by the sweeper."""
    job_id = submit(runtime, queue="nobody", cancel_after_seconds=0.001)
    with runtime.db.session() as session:
        session.get_one(Job, job_id).cancel_after = utcnow() - timedelta(seconds=1)
    Sweeper(runtime).run()
    with runtime.db.session() as session:
        assert JobStatus.CANCELLED == session.get_one(Job, job_id).status


def test_every_state_change_writes_an_event(runtime: Runtime) -> None:
    """Creation, claim and completion each leave one outbox row, with increasing ids."""
    job_id = submit(runtime)
    (job,) = claim(runtime)
    with runtime.db.session() as session:
        jobs.emit(session, job, "job.updated")
        row = session.get_one(Job, job_id)
        jobs.succeed(
            session, row, runtime.settings, result={}, outputs=[], children=[], registry=runtime.registry
        )
    with runtime.db.session() as session:
        events = list(session.scalars(select(Event).where(Event.job_id == job_id).order_by(Event.id)))
    assert ["job.created", "job.updated", "job.completed"] == [e.type for e in events]
    assert "succeeded" == events[-1].payload["status"]


def test_children_summary_always_sums_to_total(runtime: Runtime) -> None:
    """The five buckets of the children summary add up to the total."""
    children = [{"type": "debug.noop", "queue": q} for q in ("default", "default", "nobody", "default")]
    parent_id = submit(runtime, type="batch", children=children)
    (first, _) = claim(runtime, limit=2)
    with runtime.db.session() as session:
        jobs.fail_attempt(
            session,
            session.get_one(Job, first.id),
            runtime.settings,
            error_type="x",
            message="m",
            retryable=False,
        )
        summary = JobRepository(session).children_summary(parent_id)
    assert (4, 1, 1, 2) == (summary.total, summary.failed, summary.processing, summary.pending)
    assert summary.total == summary.pending + summary.processing + summary.completed + summary.failed


def test_transition_table_rejects_illegal_moves() -> None:
    """Leaving a terminal state other than to expire or retry is a bug, raised as such."""
    with pytest.raises(IllegalTransition):
        check_transition(JobStatus.SUCCEEDED, JobStatus.RUNNING)


@pytest.mark.postgres
def test_claim_uses_the_partial_queue_index(runtime: Runtime) -> None:
    """On PostgreSQL the claim walks the partial index of queued rows, in claim order (no sort)."""
    if runtime.db.dialect != "postgresql":
        pytest.skip("plan check is PostgreSQL-specific")
    with runtime.db.session() as session:
        session.execute(
            text(
                "INSERT INTO jobs (id, type, face, owner_id, status, progress, params, inputs, outputs,"
                " meta, queue, priority, capabilities, attempt, max_attempts, cancel_requested, credits,"
                " created_at, updated_at, run_at) SELECT gen_random_uuid()::text, 'debug.noop', 'native',"
                " 'o', 'succeeded', 0, '{}', '[]', '[]', '{}', 'default', 0, '[]', 1, 3, false, 0, now(),"
                " now(), now() FROM generate_series(1, 5000)"
            )
        )
        session.execute(text("ANALYZE jobs"))
    with runtime.db.session() as session:
        driver = session.connection().connection.driver_connection
        assert driver is not None
        params = {"q0": "default", "types": ["debug.noop"], "now": utcnow(), "limit": 10, "owner": "w"}
        plan = "\n".join(
            r[0] for r in driver.execute("EXPLAIN " + claim_statement(1), {**params, "expires": None})
        )
        session.rollback()
    assert "ix_jobs_claim" in plan
    assert "Sort" not in plan  # the index yields claim order: no sort over every queued row
