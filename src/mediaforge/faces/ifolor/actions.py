"""``/api/users/import`` (a user's images analysed by a fan-out of jobs) and ``/api/actions`` (the four
photo actions), over the photo service.

The API caller (its key) is the tenant that owns the jobs and the photo index; ``user_id`` is the
photo product's end user within that tenant.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Response, status
from pydantic import ValidationError

from mediaforge.api.deps import Caller, DbSession, Principal, Rt
from mediaforge.errors import BadRequest
from mediaforge.faces.ifolor.envelope import ifolor_router
from mediaforge.faces.ifolor.jobs import render
from mediaforge.faces.ifolor.schemas import (
    ActionRequest,
    ActionResponse,
    AsyncActionResponse,
    ImageDownloadInfoIn,
    ImportRequest,
    JobResponse,
    errors,
)
from mediaforge.faces.ifolor.translate import FACE, TERMINAL, status_of
from mediaforge.jobs import service as jobs
from mediaforge.photos import service as photos

__all__ = ["router"]

router = ifolor_router(tags=["ifolor"])
Writer = Annotated[Principal, Caller("jobs:write")]

_IMAGE_IDS_ONLY = (
    "image_ids alone cannot be imported: this server has no image source to look them up in;"
    " send image_download_infos (with image_ids, only those of the list are imported)"
)


@router.post(
    "/api/users/import",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobResponse,
    responses={200: {"model": JobResponse, "description": "Already final"}, **errors(400)},
)
def import_images(
    body: ImportRequest, response: Response, session: DbSession, rt: Rt, who: Writer
) -> JobResponse:
    """One parent job and one child per image, each downloading its ``download_uri`` (SSRF-guarded)."""
    if body.image_download_infos is None:
        raise BadRequest(_IMAGE_IDS_ONLY if body.image_ids is not None else "give image_download_infos")
    infos = body.image_download_infos
    if body.image_ids is not None:
        wanted = set(body.image_ids)
        infos = [info for info in infos if info.original_image_id in wanted]
    params = _import_params(body, infos)
    job, _ = jobs.create(
        session,
        who.owner_id,
        photos.import_job(params, settings=rt.settings),
        registry=rt.registry,
        settings=rt.settings,
        face=FACE,
    )
    if job.status in TERMINAL:
        response.status_code = status.HTTP_200_OK
    return render(session, job)


def _import_params(body: ImportRequest, infos: list[ImageDownloadInfoIn]) -> photos.ImportParams:
    try:
        return photos.ImportParams(
            user_id=body.user_id,
            images=[
                photos.ImportImage(
                    image_id=info.original_image_id,
                    download_uri=info.download_uri,
                    metadata=info.metadata,
                    uploaded_at=info.uploaded_at or None,
                    derivative_created_at=info.derivative_created_at or None,
                )
                for info in infos
            ],
            source_type=body.source_type,
            image_type=body.image_type,
            data_source=body.data_source,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadRequest(f"Invalid {where}: {first['msg']}") from None


@router.post(
    "/api/actions",
    response_model=ActionResponse | AsyncActionResponse,
    responses={
        202: {"model": AsyncActionResponse, "description": "Accepted: follow the job"},
        **errors(400, 404, 502),
    },
)
def execute_action(
    body: ActionRequest, response: Response, session: DbSession, rt: Rt, who: Writer
) -> ActionResponse | AsyncActionResponse:
    """200 with the result when it is quick; 202 with a job for a photobook or a large library."""
    outcome = photos.run_action(
        session,
        who.owner_id,
        body.user_id,
        body.action.value,
        body.params,
        settings=rt.settings,
        registry=rt.registry,
        storage=rt.storage,
        face=FACE,
    )
    if isinstance(outcome, photos.Started):
        response.status_code = status.HTTP_202_ACCEPTED
        job = outcome.job
        return AsyncActionResponse(action=body.action.value, job_id=job.id, status=status_of(job.status))
    return ActionResponse(action=body.action.value, result=outcome.result)
