"""VideoAnnotator's error shape: ``{"error": {code, message, detail, hint, timestamp}, "detail": message}``.

Codes are the contract's upper-case words (``JOB_NOT_FOUND``, ``INVALID_CONFIG``, ...). Errors the
core raises keep their status; their lower-case codes are translated here, once, with the hint a
client should read. Request-model failures stay FastAPI's 422 ``{"detail": [ValidationError]}``.
The top-level ``detail`` repeats the message, as the original server does (its clients read it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from mediaforge.api.errors import face_route
from mediaforge.clock import utcnow

__all__ = ["VideoAnnotatorEnvelope", "iso", "va_router"]

_BY_CODE = {
    "unauthorized": "UNAUTHORIZED",
    "invalid_credentials": "UNAUTHORIZED",
    "forbidden": "FORBIDDEN",
    "insufficient_scope": "FORBIDDEN",
    "job_not_found": "JOB_NOT_FOUND",
    "empty_file": "INVALID_REQUEST",
    "invalid_video": "INVALID_REQUEST",
    "file_too_large": "FILE_TOO_LARGE",
    "payload_too_large": "FILE_TOO_LARGE",
    "rate_limited": "RATE_LIMITED",
    "method_not_allowed": "METHOD_NOT_ALLOWED",
    "internal_error": "INTERNAL_SERVER_ERROR",
}
_BY_STATUS = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "FILE_TOO_LARGE",
    415: "INVALID_REQUEST",
    422: "INVALID_REQUEST",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}
HINTS = {
    "UNAUTHORIZED": "Include valid API key in Authorization header: Bearer YOUR_KEY",
    "FORBIDDEN": "Use an API key with the jobs scope",
    "JOB_NOT_FOUND": "Check job ID or use GET /api/v1/jobs to list all jobs",
    "JOB_ALREADY_COMPLETED": "Cannot cancel a job that has already finished",
    "INVALID_CONFIG": "Fix the validation errors and resubmit",
    "PIPELINE_NOT_FOUND": "Run 'videoannotator pipelines --detailed' to list available pipelines",
    "PIPELINE_UNAVAILABLE": "Install the pipeline's dependencies or choose another pipeline",
    "RESULT_NOT_FOUND": "Check the job's results with GET /api/v1/jobs/{job_id}/results",
    "INVALID_REQUEST": "Upload a decodable video file (MP4, AVI, MOV, MKV, WEBM)",
    "FILE_TOO_LARGE": "Upload a smaller video",
    "RATE_LIMITED": "Wait and retry",
}
_PUBLIC_401 = "Invalid or missing API key"


def iso(moment: datetime | None) -> str | None:
    """UTC with a ``Z``, as the contract's examples write it."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def code_for(status: int, code: str) -> str:
    """The contract's word for a core error code (codes already upper-case are the face's own)."""
    if code.isupper():
        return code
    return _BY_CODE.get(code) or _BY_STATUS.get(status) or code.upper()


class VideoAnnotatorEnvelope:
    def error(self, status: int, code: str, message: str, details: Any, headers: dict[str, str]) -> Response:
        va_code = code_for(status, code)
        detail = details if isinstance(details, dict) else None
        if va_code == "UNAUTHORIZED" and status == 401:
            detail = {**(detail or {}), "reason": message}
            message = _PUBLIC_401
        body = {
            "error": {
                "code": va_code,
                "message": message,
                "detail": jsonable_encoder(detail),
                "hint": HINTS.get(va_code),
                "timestamp": iso(utcnow()),
            },
            "detail": message,
        }
        return JSONResponse(body, status_code=status, headers=headers or None)

    def invalid(self, errors: list[dict[str, Any]]) -> Response:
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def va_router(**kwargs: Any) -> APIRouter:
    """A router whose errors speak VideoAnnotator."""
    return APIRouter(route_class=face_route(VideoAnnotatorEnvelope()), **kwargs)
