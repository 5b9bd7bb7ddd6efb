"""``/api/v1/jobs``: submit a video, list, read, cancel, delete, results and result files.

Collection paths answer with and without the trailing slash (no redirect): the contract and the
1.3.0 tests use ``/api/v1/jobs/``, the web viewer, the CLI's ``pipelines`` and quick-test do not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from mediaforge.api.assets import stream_blob
from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.faces.videoannotator import queries, service
from mediaforge.faces.videoannotator.envelope import va_router
from mediaforge.faces.videoannotator.schemas import (
    CancelResponse,
    JobListResponse,
    JobResponse,
    JobResultsResponse,
)
from mediaforge.faces.videoannotator.translate import render, render_results

__all__ = ["router"]

router = va_router(prefix="/api/v1/jobs", tags=["jobs"])
Reader = Annotated[Principal, Caller("jobs:read")]
Writer = Annotated[Principal, Caller("jobs:write")]
VideoFile = Annotated[UploadFile, File(description="Video file to process (MP4, AVI, MOV, MKV, WEBM)")]
ConfigField = Annotated[
    str | None,
    Form(
        description="JSON configuration object for pipeline parameters. "
        'Example: \'{"person_tracking":{"confidence_threshold":0.7}}\''
    ),
]
SelectedField = Annotated[
    str | None,
    Form(
        description="Comma-separated list of pipeline names to run. "
        "Example: 'person_tracking,face_analysis'. Use GET /api/v1/pipelines to list available pipelines."
    ),
]


@router.post("/", status_code=status.HTTP_201_CREATED, response_model=JobResponse)
def submit_job(
    video: VideoFile,
    session: DbSession,
    rt: Rt,
    who: Writer,
    config: ConfigField = None,
    selected_pipelines: SelectedField = None,
) -> JobResponse:
    """Submit a video for annotation; 201 with the ``pending`` job."""
    tree = service.submit(
        session,
        rt,
        who,
        video=video.file,
        filename=video.filename,
        selected=service.parse_selection(selected_pipelines),
        config=service.parse_config(config),
    )
    return render(tree)


router.add_api_route(
    "",
    submit_job,
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    response_model=JobResponse,
    include_in_schema=False,
)


@router.get("/", response_model=JobListResponse)
def list_jobs(
    session: ReadSession,
    who: Reader,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 10,
    status_filter: str | None = None,
) -> JobListResponse:
    """The caller's jobs, newest first; ``status_filter`` is one of the five statuses (else none match)."""
    found, total = queries.page(
        session, who.sees, status_filter or None, offset=(page - 1) * per_page, limit=per_page
    )
    return JobListResponse(jobs=[render(t) for t in found], total=total, page=page, per_page=per_page)


router.add_api_route("", list_jobs, methods=["GET"], response_model=JobListResponse, include_in_schema=False)


@router.get("/{job_id}", response_model=JobResponse)
def get_job_status(job_id: str, session: ReadSession, who: Reader) -> JobResponse:
    return render(service.get(session, job_id, who))


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_job(job_id: str, session: DbSession, rt: Rt, who: Writer) -> Response:
    """Cancel the job if it is still going, then delete it with its video and result files."""
    service.remove(session, rt, job_id, who)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{job_id}/cancel", response_model=CancelResponse)
def cancel_job(job_id: str, session: DbSession, rt: Rt, who: Writer) -> CancelResponse:
    """pending / running → cancelled; cancelled again → unchanged; completed / failed → 409."""
    job = render(service.cancel(session, rt, job_id, who))
    return CancelResponse(
        **job.model_dump(),
        job_id=job.id,
        message=f"Job {job.id} cancelled",
        cancelled_at=job.completed_at,
    )


@router.get("/{job_id}/results", response_model=JobResultsResponse)
def get_job_results(job_id: str, session: ReadSession, who: Reader) -> JobResultsResponse:
    """Per-pipeline results (also while running: the pipelines that have ended so far)."""
    tree = service.get(session, job_id, who)
    return render_results(tree, queries.outputs_of(session, tree.children))


@router.get(
    "/{job_id}/results/files/{pipeline_name}",
    response_class=StreamingResponse,
    responses={200: {"description": "File download response", "content": {"application/json": {}}}},
)
def download_result_file(
    job_id: str, pipeline_name: str, request: Request, session: ReadSession, rt: Rt, who: Reader
) -> Response:
    """The pipeline's output file (JSON for COCO and scenes, RTTM text for audio)."""
    asset = service.result_file(session, job_id, pipeline_name, who)
    return stream_blob(
        rt, asset.storage_key, asset.size, asset.content_type, asset.filename, request.headers.get("range")
    )
