"""The contract's bodies (``specs/videoannotator.openapi.json``), field for field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "CancelResponse",
    "ConfigValidationRequest",
    "ConfigValidationResponse",
    "Issue",
    "JobListResponse",
    "JobResponse",
    "JobResultsResponse",
    "PipelineConfigValidationRequest",
    "PipelineConfigValidationResponse",
    "PipelineInfo",
    "PipelineListResponse",
    "PipelineResultResponse",
]


class JobResponse(BaseModel):
    """Response model for job information (aligned with DB Job model)."""

    id: str
    status: str
    video_path: str | None = None
    video_filename: str | None = Field(None, description="Original video filename")
    video_size_bytes: int | None = Field(None, description="Video file size in bytes")
    video_duration_seconds: int | None = Field(None, description="Video duration in seconds")
    config: dict[str, Any] | None = None
    selected_pipelines: list[str] | None = None
    created_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    result_path: str | None = None
    storage_path: str | None = None


class CancelResponse(JobResponse):
    """``JobResponse`` plus what the web viewer reads after a cancel (job_id, message, cancelled_at)."""

    job_id: str
    message: str
    cancelled_at: datetime | None = None


class JobListResponse(BaseModel):
    """Response model for job listing."""

    jobs: list[JobResponse]
    total: int
    page: int
    per_page: int


class PipelineResultResponse(BaseModel):
    """One pipeline's outcome within a job."""

    pipeline_name: str
    status: str
    start_time: datetime | None = None
    end_time: datetime | None = None
    processing_time: float | None = None
    annotation_count: int | None = None
    output_file: str | None = None
    download_url: str | None = None
    error_message: str | None = None


class JobResultsResponse(BaseModel):
    """Response model for job results (aligned with DB schema)."""

    job_id: str
    status: str
    pipeline_results: dict[str, PipelineResultResponse]
    created_at: datetime | None = None
    completed_at: datetime | None = None
    result_path: str | None = None
    error_message: str | None = None


class PipelineInfo(BaseModel):
    """Information about an available pipeline (extended taxonomy)."""

    name: str
    display_name: str | None = None
    description: str
    enabled: bool = True
    pipeline_family: str | None = None
    variant: str | None = None
    tasks: list[str] = Field(default_factory=list)
    modalities: list[str] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list)
    backends: list[str] = Field(default_factory=list)
    stability: str | None = None
    outputs: list[dict[str, Any]]
    config_schema: dict[str, Any]
    examples: list[dict[str, Any]] = Field(default_factory=list)


class PipelineListResponse(BaseModel):
    pipelines: list[PipelineInfo]
    total: int


class Issue(BaseModel):
    """One validation error or warning (the contract says only "object"; the viewer reads these keys)."""

    pipeline: str | None
    field: str | None
    message: str
    value: Any = None
    severity: str
    error_code: str
    hint: str | None = None
    suggested_value: Any = None


class PipelineConfigValidationRequest(BaseModel):
    """Request for config validation."""

    config: dict[str, Any]
    selected_pipelines: list[str] | None = None


class PipelineConfigValidationResponse(BaseModel):
    valid: bool
    errors: list[Issue]
    warnings: list[Issue]
    message: str


class ConfigValidationRequest(BaseModel):
    """Request for full configuration validation."""

    config: dict[str, Any]
    selected_pipelines: list[str]


class ConfigValidationResponse(PipelineConfigValidationResponse):
    pipelines_validated: list[str]
