"""Ifolor's words for the core's, as pure functions: statuses, types, events, a job's numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.contract import validate

from mediaforge.faces.ifolor import translate
from mediaforge.jobs.schemas import ChildrenSummary, JobView

SPEC = "ifolor-ai-backend.openapi.json"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def view(**fields: Any) -> JobView:
    values: dict[str, Any] = {
        "id": "0193a8c2-0000-7000-8000-000000000001",
        "type": "debug.sleep",
        "status": "queued",
        "progress": 0.0,
        "progress_message": None,
        "params": {},
        "inputs": [],
        "outputs": [],
        "result": None,
        "error": None,
        "parent_id": None,
        "workflow_id": None,
        "step_id": None,
        "queue": "default",
        "priority": 0,
        "attempt": 0,
        "max_attempts": 3,
        "worker_id": None,
        "cancel_requested": False,
        "idempotency_key": None,
        "meta": {},
        "created_at": T0,
        "started_at": None,
        "finished_at": None,
        "expires_at": None,
    }
    return JobView(**{**values, **fields})


@pytest.mark.parametrize("word", translate.STATUSES)
def test_every_status_word_filters_back_to_the_core_statuses_it_shows(word: str) -> None:
    """``core_statuses`` inverts ``status_of`` for every word the face shows."""
    assert {translate.status_of(core) for core in translate.core_statuses(word)} == {word}


def test_a_word_the_face_never_shows_filters_nothing() -> None:
    """``running`` is the core's word, not Ifolor's: the filter matches no job."""
    assert translate.core_statuses("running") == []


def test_job_types_map_both_ways() -> None:
    """Photo types get Ifolor names, which filter back to them; other types pass through."""
    assert translate.job_type("photo.import") == "import_user_images"
    assert translate.core_types("suggest_photobook") == ["photo.suggest_photobook"]
    assert (translate.job_type("debug.noop"), translate.core_types("debug.noop")) == (
        "debug.noop",
        ["debug.noop"],
    )
    assert translate.core_types("photo.import") == []  # its Ifolor name is the filter word


def test_events_expand_to_core_events_and_fold_back() -> None:
    """``job.updated`` also carries cancellations and expiries; the fold drops duplicates."""
    core = translate.core_events(["job.updated", "job.completed"])
    assert core == ["job.updated", "job.cancelled", "job.expired", "job.completed"]
    assert translate.ifolor_events(core) == ["job.updated", "job.completed"]
    assert translate.event_name("job.progress") is None


@pytest.mark.parametrize(
    ("summary", "status", "percent"),
    [
        (ChildrenSummary(total=3, pending=2, completed=1), "waiting", 33),
        (ChildrenSummary(total=3, completed=2, failed=1), "succeeded", 100),
        (ChildrenSummary(total=7, processing=1, failed=2, completed=4), "waiting", 85),
    ],
)
def test_a_parents_progress_is_the_settled_share_floored(
    summary: ChildrenSummary, status: str, percent: int
) -> None:
    """floor(100 * (completed + failed) / total), whatever the parent's own progress says."""
    body = translate.render_job(view(status=status, children=summary, progress=0.0), updated_at=T0)
    validate(SPEC, "JobResponse", body.model_dump(mode="json"))
    assert body.progress_percent == percent


def test_retries_timing_and_error_of_a_failed_job() -> None:
    """Three attempts are two retries; time is end - start; the error message is shown."""
    job = view(
        status="failed",
        attempt=3,
        started_at=T0,
        finished_at=T0 + timedelta(milliseconds=1500),
        error={"type": "boom", "message": "it broke"},
        progress=42.9,
    )
    body = translate.render_job(job, updated_at=T0 + timedelta(seconds=2))
    assert (body.retry_count, body.processing_time_ms, body.error_message, body.progress_percent) == (
        2,
        1500,
        "it broke",
        42,
    )
    assert (body.status, body.celery_task_id, body.celery_task_name) == ("failed", job.id, "debug.sleep")
