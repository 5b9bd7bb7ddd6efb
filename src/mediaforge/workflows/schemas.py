"""The public shapes of a workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

__all__ = ["StepView", "WorkflowView"]


class StepView(BaseModel):
    """One step: its latest job and what it produced."""

    id: str
    type: str
    depends_on: list[str]
    status: str
    job_id: str | None
    result: dict[str, Any] | None
    outputs: list[str]
    error: dict[str, Any] | None


class WorkflowView(BaseModel):
    """A workflow and its steps in declaration order."""

    id: str
    name: str | None
    status: str
    steps: list[StepView]
    meta: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
