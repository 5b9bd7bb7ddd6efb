"""``/v1/workflows``: submit a DAG, read it, cancel, resume."""

from __future__ import annotations

from fastapi import APIRouter, status

from mediaforge.api.deps import DbSession, ReadSession, Rt, Who
from mediaforge.workflows import service as workflows
from mediaforge.workflows.dag import WorkflowSpec
from mediaforge.workflows.schemas import WorkflowView

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WorkflowView)
def create_workflow(body: WorkflowSpec, session: DbSession, rt: Rt, who: Who) -> WorkflowView:
    """Submit a DAG of steps; cycles, unknown steps and bad mappings are a 400."""
    wf = workflows.submit(session, who.owner_id, body, registry=rt.registry, settings=rt.settings)
    return workflows.view(session, wf)


@router.get("/{workflow_id}", response_model=WorkflowView)
def get_workflow(workflow_id: str, session: ReadSession, who: Who) -> WorkflowView:
    return workflows.view(session, workflows.get(session, workflow_id, who.owner_id))


@router.post("/{workflow_id}/cancel", response_model=WorkflowView)
def cancel_workflow(workflow_id: str, session: DbSession, rt: Rt, who: Who) -> WorkflowView:
    wf = workflows.cancel(
        session, workflows.get(session, workflow_id, who.owner_id, for_update=True), rt.settings
    )
    return workflows.view(session, wf)


@router.post("/{workflow_id}/resume", response_model=WorkflowView)
def resume_workflow(workflow_id: str, session: DbSession, rt: Rt, who: Who) -> WorkflowView:
    """Rerun only the failed, cancelled and never-run steps."""
    wf = workflows.get(session, workflow_id, who.owner_id, for_update=True)
    return workflows.view(session, workflows.resume(session, wf, rt.settings, rt.registry))
