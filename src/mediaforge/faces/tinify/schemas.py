"""The Tinify.ai contract's bodies (``specs/tinify-ai.openapi.json``), field for field."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "BatchStatusResponse",
    "CheckoutRequest",
    "CompressRequest",
    "JobResponse",
    "OutputFormat",
    "ProcessFilesRequest",
    "ProcessFilesResponse",
    "ProcessJobRequest",
    "ProcessingSettings",
    "ResizeBehavior",
    "ResizeRequest",
    "SignedUrlResponse",
    "StatusResponse",
    "TagRequest",
    "TempFileResponse",
    "UpscaleRequest",
    "UrlUploadRequest",
]


class OutputFormat(StrEnum):
    ORIGINAL = "original"
    JPG = "jpg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"
    SVG = "svg"
    ICO = "ico"


class ResizeBehavior(StrEnum):
    PAD = "pad"
    CROP = "crop"


class ProcessingSettings(BaseModel):
    """What the caller wants; the stages follow from the values (no run_* flags)."""

    output_format: OutputFormat = OutputFormat.ORIGINAL
    output_upscale_factor: float | None = Field(None, ge=0.1, le=10.0)
    output_width: int | None = Field(None, ge=1, le=8192)
    output_height: int | None = Field(None, ge=1, le=8192)
    output_resize_behavior: ResizeBehavior = ResizeBehavior.PAD
    output_quality: int = Field(80, ge=1, le=100)
    output_file_size_limit: int | None = Field(None, gt=0)
    output_seo_tag_gen: bool = False
    output_seo_rename: bool = False
    gif_frame_limit: int | None = Field(None, ge=1, le=100)


class ProcessFilesRequest(BaseModel):
    temp_file_ids: list[str] = Field(min_length=1, max_length=100)
    settings: ProcessingSettings = Field(default_factory=ProcessingSettings)


class _EndpointRequest(BaseModel):
    """The single-purpose endpoints: their own fields override ``settings`` (or the defaults)."""

    temp_file_ids: list[str] = Field(min_length=1, max_length=100)
    settings: ProcessingSettings | None = None
    output_format: OutputFormat = OutputFormat.ORIGINAL

    def overrides(self) -> dict[str, Any]:
        raise NotImplementedError

    def effective(self) -> ProcessingSettings:
        base = self.settings or ProcessingSettings()
        return base.model_copy(update=self.overrides())


class CompressRequest(_EndpointRequest):
    quality: int = Field(80, ge=1, le=100)
    target_file_size: int | None = Field(None, gt=0)

    def overrides(self) -> dict[str, Any]:
        return {
            "output_format": self.output_format,
            "output_quality": self.quality,
            "output_file_size_limit": self.target_file_size,
        }


class ResizeRequest(_EndpointRequest):
    width: int | None = Field(None, ge=1, le=8192)
    height: int | None = Field(None, ge=1, le=8192)
    resize_behavior: ResizeBehavior = ResizeBehavior.PAD

    def overrides(self) -> dict[str, Any]:
        return {
            "output_format": self.output_format,
            "output_width": self.width,
            "output_height": self.height,
            "output_resize_behavior": self.resize_behavior,
        }


class UpscaleRequest(_EndpointRequest):
    factor: float = Field(2.0, ge=1.0, le=4.0)

    def overrides(self) -> dict[str, Any]:
        return {"output_format": self.output_format, "output_upscale_factor": self.factor}


class TagRequest(_EndpointRequest):
    rename_file: bool = False

    def overrides(self) -> dict[str, Any]:
        return {
            "output_format": self.output_format,
            "output_seo_tag_gen": True,
            "output_seo_rename": self.rename_file,
        }


class ProcessJobRequest(BaseModel):
    job_id: str
    input_path: str
    settings: ProcessingSettings


class UrlUploadRequest(BaseModel):
    url: str = Field(max_length=4096)
    filename: str | None = Field(None, max_length=255)


class CheckoutRequest(BaseModel):
    price_id: str
    success_url: str
    cancel_url: str


class TempFileResponse(BaseModel):
    success: bool = True
    temp_file_id: str
    original_filename: str
    file_size: int
    mime_type: str
    temp_path: str
    expires_at: datetime
    session_token: str | None = None
    gif_frame_count: int | None = None
    gif_fps: float | None = None


class JobResponse(BaseModel):
    id: str
    status: str
    original_filename: str
    original_size: int
    original_format: str | None = None
    original_mime_type: str | None = None
    original_width: int | None = None
    original_height: int | None = None
    original_dpi: int | None = None
    original_file_path: str | None = None
    output_format: str | None = None
    output_upscale_factor: float | None = None
    output_width: int | None = None
    output_height: int | None = None
    output_resize_behavior: str | None = None
    output_quality: int | None = None
    output_file_size_limit: int | None = None
    output_seo_tag_gen: bool | None = None
    output_seo_rename: bool | None = None
    executed_upscale: bool = False
    executed_resize: bool = False
    executed_compress: bool = False
    executed_tag: bool = False
    processed_file_path: str | None = None
    processed_filename: str | None = None
    processed_size: int | None = None
    processed_format: str | None = None
    processed_width: int | None = None
    processed_height: int | None = None
    processed_compression_ratio: float | None = None
    seo_alt_text: str | None = None
    seo_filename: str | None = None
    seo_keywords: list[str] | None = None
    job_source: str | None = None
    job_entry_point: str | None = None
    processing_time_ms: int | None = None
    credits_used: int = 0
    error_message: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime


class ProcessFilesResponse(BaseModel):
    success: bool = True
    jobs: list[dict[str, Any]]
    credits_used: int | None = None
    credits_remaining: int | None = None


class StatusResponse(BaseModel):
    success: bool = True
    job: JobResponse
    queue_position: int | None = None
    estimated_wait_seconds: float | None = None
    download_url: str | None = None


class BatchStatusResponse(BaseModel):
    success: bool = True
    jobs: list[JobResponse]
    total: int


class SignedUrlResponse(BaseModel):
    url: str
    filename: str
    content_type: str
    size: int | None = None
    expires_in: int
