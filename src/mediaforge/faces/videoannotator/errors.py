"""The face's own errors, with the contract's codes (the envelope adds the hints)."""

from __future__ import annotations

from mediaforge.errors import BadRequest, Conflict, NotFound

__all__ = [
    "AlreadyFinished",
    "InvalidConfig",
    "InvalidVideo",
    "JobNotFound",
    "PipelineNotFound",
    "PipelineUnavailable",
    "ResultNotFound",
]


class InvalidConfig(BadRequest):
    code = "INVALID_CONFIG"


class InvalidVideo(BadRequest):
    code = "INVALID_REQUEST"


class PipelineUnavailable(BadRequest):
    code = "PIPELINE_UNAVAILABLE"


class JobNotFound(NotFound):
    code = "JOB_NOT_FOUND"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id} not found", details={"job_id": job_id})


class PipelineNotFound(NotFound):
    code = "PIPELINE_NOT_FOUND"

    def __init__(self, name: str) -> None:
        super().__init__(f"Pipeline '{name}' not found", details={"pipeline_name": name})


class ResultNotFound(NotFound):
    code = "RESULT_NOT_FOUND"


class AlreadyFinished(Conflict):
    code = "JOB_ALREADY_COMPLETED"

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(
            f"Job {job_id} is already completed (status: {status})",
            details={"job_id": job_id, "status": status},
        )
