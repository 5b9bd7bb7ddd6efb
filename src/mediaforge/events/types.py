"""The event types the outbox carries, each with what it means.

Job events carry the job's public view (``JobView`` without detail) as payload; workflow events carry
``{id, name, status}`` plus the fields named below. Every channel (SSE, websocket, webhooks) sends
the payload unchanged.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TERMINAL_JOB_EVENTS", "EventType", "matches"]


class EventType(StrEnum):
    """Every event type written today."""

    JOB_CREATED = "job.created"
    """A job was submitted (also each child of a batch, and each workflow step as it starts)."""
    JOB_UPDATED = "job.updated"
    """Any other state change: started running, re-queued for a retry, waiting for its children."""
    JOB_PROGRESS = "job.progress"
    """Progress moved; the worker writes at most one per job every 500 ms, so it is coalesced at the
    source and every progress event that exists is delivered."""
    JOB_COMPLETED = "job.completed"
    """The job succeeded; ``result`` and ``outputs`` are set. Terminal."""
    JOB_FAILED = "job.failed"
    """The job gave up; ``error`` says why. Terminal (a manual retry queues it again)."""
    JOB_CANCELLED = "job.cancelled"
    """The job was cancelled, or its deadline passed before it started. Terminal."""
    JOB_EXPIRED = "job.expired"
    """A finished job's outputs were deleted after the retention period."""
    WORKFLOW_CREATED = "workflow.created"
    """A workflow was submitted; its root steps start in the same transaction."""
    WORKFLOW_RESUMED = "workflow.resumed"
    """A failed or cancelled workflow runs its failed, cancelled and blocked steps again."""
    WORKFLOW_STEP_FAILED = "workflow.step_failed"
    """A step could not start (its mappings failed); adds ``step_id`` and ``error``."""
    WORKFLOW_SUCCEEDED = "workflow.succeeded"
    """Every step succeeded. Terminal."""
    WORKFLOW_FAILED = "workflow.failed"
    """A step failed and nothing else can run. Terminal (``resume`` reopens it)."""
    WORKFLOW_CANCELLED = "workflow.cancelled"
    """The workflow was cancelled; its unfinished steps are cancelled with it. Terminal."""


TERMINAL_JOB_EVENTS = frozenset(
    {EventType.JOB_COMPLETED, EventType.JOB_FAILED, EventType.JOB_CANCELLED, EventType.JOB_EXPIRED}
)
"""After one of these a job's stream has nothing more to say (unless the job is retried)."""


def matches(pattern: str, type: str) -> bool:
    """``job.completed`` matches itself; ``job.*`` matches every job event; ``*`` matches all."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return type.startswith(pattern[:-1])
    return pattern == type
