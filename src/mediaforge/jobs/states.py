"""The job lifecycle: states, the terminal set, and the one transition table.

::

    queued ──► running ──► succeeded | failed | cancelled
      │  ▲        │  └──► waiting (children running) ──► succeeded | failed | cancelled
      │  └────────┘ (lease expired or retryable error: back to queued with backoff)
      └──► cancelled
    succeeded | failed | cancelled ──► expired (results deleted after retention)
    failed | cancelled ──► queued (manual retry)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TERMINAL", "IllegalTransition", "JobStatus", "check_transition"]


class JobStatus(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    """Waiting for a worker (possibly not before ``run_at``, after a retry backoff)."""
    RUNNING = "running"
    """Leased by a worker; the lease is renewed by heartbeats."""
    WAITING = "waiting"
    """Its own work is done; it waits for its children to finish."""
    SUCCEEDED = "succeeded"
    """Finished; ``result`` and ``outputs`` hold what it produced."""
    FAILED = "failed"
    """Gave up: a permanent error, the last attempt failed, or it timed out."""
    CANCELLED = "cancelled"
    """Stopped on request, or its deadline passed before it started."""
    EXPIRED = "expired"
    """Finished long ago; its outputs were deleted after the retention period."""


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.WAITING}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.QUEUED, JobStatus.WAITING, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.WAITING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.SUCCEEDED: frozenset({JobStatus.EXPIRED}),
    JobStatus.FAILED: frozenset({JobStatus.EXPIRED, JobStatus.QUEUED}),
    JobStatus.CANCELLED: frozenset({JobStatus.EXPIRED, JobStatus.QUEUED}),
    JobStatus.EXPIRED: frozenset(),
}


class IllegalTransition(Exception):
    """A state change the table forbids: a bug in the caller, never user input."""


def check_transition(current: JobStatus, new: JobStatus) -> None:
    """Raise ``IllegalTransition`` unless ``current -> new`` is in the table."""
    if new not in _ALLOWED[current]:
        raise IllegalTransition(f"{current} -> {new}")
