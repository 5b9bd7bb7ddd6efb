"""``/v1/workflows``: submit a DAG, read it, cancel, resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.workflows import service as workflows
from mediaforge.workflows.dag import WorkflowSpec
from mediaforge.workflows.schemas import WorkflowView

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])
Reader = Annotated[Principal, Caller("workflows:read")]
Writer = Annotated[Principal, Caller("workflows:write")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WorkflowView)
def create_workflow(body: WorkflowSpec, session: DbSession, rt: Rt, who: Writer) -> WorkflowView:
    """Submit a DAG of steps; cycles, unknown steps and bad mappings are a 400."""
    wf = workflows.submit(session, who.owner_id, body, registry=rt.registry, settings=rt.settings)
    return workflows.view(session, wf)


@router.get("/{workflow_id}", response_model=WorkflowView)
def get_workflow(workflow_id: str, session: ReadSession, who: Reader) -> WorkflowView:
    return workflows.view(session, workflows.get(session, workflow_id, who.sees))


@router.post("/{workflow_id}/cancel", response_model=WorkflowView)
def cancel_workflow(workflow_id: str, session: DbSession, rt: Rt, who: Writer) -> WorkflowView:
    wf = workflows.cancel(
        session, workflows.get(session, workflow_id, who.sees, for_update=True), rt.settings
    )
    return workflows.view(session, wf)


@router.post("/{workflow_id}/resume", response_model=WorkflowView)
def resume_workflow(workflow_id: str, session: DbSession, rt: Rt, who: Writer) -> WorkflowView:
    """Rerun only the failed, cancelled and never-run steps."""
    wf = workflows.get(session, workflow_id, who.sees, for_update=True)
    return workflows.view(session, workflows.resume(session, wf, rt.settings, rt.registry))
