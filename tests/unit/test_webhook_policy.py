"""The pure webhook rules: event and job filters, the retry schedule, and what an answer means."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from mediaforge.webhooks.policy import (
    JITTER,
    Verdict,
    decide,
    event_matches,
    job_matches,
    parse_retry_after,
    parse_schedule,
    valid_event_pattern,
)
from mediaforge.webhooks.states import DeliveryStatus

SCHEDULE = (0.0, 5.0, 300.0)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        (None, "job.completed", True),
        (["*"], "workflow.failed", True),
        (["job.completed"], "job.completed", True),
        (["job.completed"], "job.failed", False),
        (["job.*"], "job.progress", True),
        (["job.*"], "jobs.progress", False),
        (["workflow.*", "job.failed"], "job.failed", True),
        ([], "job.failed", False),
    ],
)
def test_event_filter(patterns: list[str] | None, event_type: str, expected: bool) -> None:
    """Exact names, ``prefix.*`` and ``*`` match; a prefix needs its dot."""
    assert expected == event_matches(patterns, event_type)


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [("*", True), ("job.*", True), ("job.completed", True), ("job.", False), ("a b", False)],
)
def test_event_patterns_are_validated(pattern: str, ok: bool) -> None:
    """Only ``*``, dotted names and dotted prefixes ending in ``.*`` are accepted."""
    assert ok == valid_event_pattern(pattern)


def test_job_filter_matches_star_a_listed_job_or_its_workflow() -> None:
    """``["*"]`` takes every event; a list takes events of its jobs and workflows only."""
    assert [True, True, True, False, False] == [
        job_matches(["*"], None, None),
        job_matches(["j1"], "j1", None),
        job_matches(["w1"], "j2", "w1"),
        job_matches(["j1"], "j2", None),
        job_matches(["j1"], None, None),
    ]


def test_schedule_parses_seconds_and_refuses_nonsense() -> None:
    """The default schedule reads as eight delays; empty or negative ones are refused."""
    assert (0, 5, 300, 1800, 7200, 18000, 36000, 36000) == parse_schedule(
        "0,5,300,1800,7200,18000,36000,36000"
    )
    for bad in ("", "5,-1", "soon"):
        with pytest.raises(ValueError, match="schedule"):
            parse_schedule(bad)


def test_a_2xx_succeeds_and_is_no_failure() -> None:
    """A delivered attempt ends the delivery and counts nothing against the subscription."""
    verdict = decide(
        delivered=True,
        status_code=204,
        permanent=False,
        retry_after=None,
        attempt_in_cycle=1,
        schedule=SCHEDULE,
    )
    assert Verdict(DeliveryStatus.SUCCEEDED) == verdict


@pytest.mark.parametrize("status_code", [500, 502, 429, 404, 301, None])
def test_other_answers_retry_after_the_next_scheduled_delay_with_jitter(status_code: int | None) -> None:
    """After attempt 2 of (0, 5, 300), the next comes 300 s later, give or take the jitter."""
    verdict = decide(
        delivered=False,
        status_code=status_code,
        permanent=False,
        retry_after=None,
        attempt_in_cycle=2,
        schedule=SCHEDULE,
    )
    assert (DeliveryStatus.PENDING, True) == (verdict.status, verdict.failure)
    assert verdict.delay is not None
    assert 300 * (1 - JITTER) <= verdict.delay <= 300 * (1 + JITTER)


def test_retry_after_lengthens_but_never_shortens_the_wait() -> None:
    """``Retry-After: 60`` after the first attempt waits 60 s instead of 5; a shorter one changes nothing."""
    rng = random.Random(1)
    longer = decide(
        delivered=False,
        status_code=429,
        permanent=False,
        retry_after=60,
        attempt_in_cycle=1,
        schedule=SCHEDULE,
        rng=rng,
    )
    shorter = decide(
        delivered=False,
        status_code=503,
        permanent=False,
        retry_after=1,
        attempt_in_cycle=1,
        schedule=SCHEDULE,
        rng=rng,
    )
    assert longer.delay == 60
    assert shorter.delay is not None
    assert shorter.delay >= 5 * (1 - JITTER)


def test_the_last_scheduled_attempt_fails_the_delivery() -> None:
    """Attempt 3 of a three-attempt schedule failing leaves nothing to wait for."""
    verdict = decide(
        delivered=False,
        status_code=500,
        permanent=False,
        retry_after=None,
        attempt_in_cycle=3,
        schedule=SCHEDULE,
    )
    assert Verdict(DeliveryStatus.FAILED, failure=True) == verdict


def test_410_is_dead_and_disables_the_subscription() -> None:
    """Gone means stop: no retry, and a reason to disable the subscription."""
    verdict = decide(
        delivered=False,
        status_code=410,
        permanent=False,
        retry_after=None,
        attempt_in_cycle=1,
        schedule=SCHEDULE,
    )
    assert (DeliveryStatus.DEAD, "the target answered 410 Gone") == (verdict.status, verdict.disable_reason)


def test_a_refused_target_is_dead_without_retrying() -> None:
    """A target the SSRF guard refuses is not tried again."""
    verdict = decide(
        delivered=False,
        status_code=None,
        permanent=True,
        retry_after=None,
        attempt_in_cycle=1,
        schedule=SCHEDULE,
    )
    assert Verdict(DeliveryStatus.DEAD, failure=True) == verdict


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("120", 120.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("999999999", 24 * 3600.0),
        ("tomorrow", None),
    ],
)
def test_retry_after_reads_seconds_or_a_date_capped_at_a_day(
    header: str | None, expected: float | None
) -> None:
    """Both Retry-After forms are understood; past dates mean now, absurd waits are capped."""
    assert expected == parse_retry_after(header, NOW)
