"""The Ifolor ai-backend contract's bodies (``specs/ifolor-ai-backend.openapi.json``), field for field.

Request fields whose wrong values the contract answers with 400 (``transport``, ``events``, ``jobs``,
``ttl``) are plain strings and numbers here and are checked by the face, so a bad value is a 400
``{detail}`` rather than a 422; a body of the wrong shape altogether is Ninja's 422.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "ActionRequest",
    "ActionResponse",
    "ActionType",
    "AsyncActionResponse",
    "ErrorResponse",
    "ImageDownloadInfoIn",
    "ImportRequest",
    "JobCancelResponse",
    "JobChildrenSummary",
    "JobListResponse",
    "JobResponse",
    "SubscriptionCreateRequest",
    "SubscriptionListResponse",
    "SubscriptionResponse",
    "WorkflowCancelResponse",
    "errors",
]


class ActionType(StrEnum):
    """Supported RPC action types."""

    SUGGEST_TEXT = "SUGGEST_TEXT"
    SUGGEST_ALTERNATIVE_IMAGES = "SUGGEST_ALTERNATIVE_IMAGES"
    DETECT_DUPLICATES = "DETECT_DUPLICATES"
    SUGGEST_PHOTOBOOK = "SUGGEST_PHOTOBOOK"


class ActionRequest(BaseModel):
    """RPC-JSON action request."""

    user_id: str = Field(..., min_length=1, max_length=255)
    action: ActionType
    params: dict[str, Any]


class ActionResponse(BaseModel):
    """RPC-JSON action response (the action ran now)."""

    action: str
    result: dict[str, Any]


class AsyncActionResponse(BaseModel):
    """Response for async actions (202 Accepted): follow ``job_id`` on ``/api/jobs/{job_id}``."""

    action: str
    job_id: str
    status: str


class ErrorResponse(BaseModel):
    """Error response schema."""

    detail: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers an operation declares."""
    return {code: {"model": ErrorResponse} for code in codes}


class ImageDownloadInfoIn(BaseModel):
    """A download URI minted by the CLI; the worker fetches it (through the SSRF guard)."""

    original_image_id: str
    download_uri: str
    uploaded_at: str = ""
    derivative_created_at: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)


class ImportRequest(BaseModel):
    """Request body for the user import endpoint."""

    data_source: str | None = None
    user_id: str = Field(..., min_length=1, max_length=255)
    source_type: str = "minio"
    image_ids: list[str] | None = None
    image_type: str = "Original"
    image_download_infos: list[ImageDownloadInfoIn] | None = None


class JobChildrenSummary(BaseModel):
    """Aggregated status of a parent job's children; the four buckets sum to ``total``."""

    total: int
    pending: int
    processing: int
    completed: int
    failed: int


class JobResponse(BaseModel):
    """A single job (``celery_task_*`` name our dispatch: see ``translate``)."""

    id: str
    parent_id: str | None = None
    celery_task_id: str
    celery_task_name: str
    job_type: str
    status: str
    progress_percent: int
    progress_message: str | None
    result: dict[str, Any] | None
    error_message: str | None
    queue: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    processing_time_ms: int | None
    retry_count: int
    cancellation_requested: bool
    metadata: dict[str, Any]
    children_summary: JobChildrenSummary | None = None


class JobListResponse(BaseModel):
    items: list[JobResponse]
    total: int
    page: int
    page_size: int


class JobCancelResponse(BaseModel):
    """Response schema for cancellation."""

    id: str
    status: str
    cancellation_requested: bool
    message: str


class WorkflowCancelResponse(BaseModel):
    """Response schema for workflow cancellation."""

    id: str
    status: str
    message: str


class SubscriptionCreateRequest(BaseModel):
    """A new subscription; ``ttl`` is in seconds, an explicit ``expires_at`` wins over it."""

    target_url: str
    transport: str = "http"
    jobs: list[str] = Field(default_factory=lambda: ["*"])
    events: list[str]
    secret: str | None = None
    description: str | None = None
    is_active: bool = True
    ttl: int | None = None
    expires_at: datetime | None = None


class SubscriptionResponse(BaseModel):
    """A subscription (``secret`` is write-only and ``ttl`` is folded into ``expires_at``)."""

    id: str
    target_url: str
    transport: str
    jobs: list[str]
    events: list[str]
    description: str | None
    is_active: bool
    expires_at: datetime | None
    consecutive_failures: int
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionListResponse(BaseModel):
    items: list[SubscriptionResponse]
    total: int
    page: int
    page_size: int
