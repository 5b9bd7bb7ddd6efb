"""``/api/v1/pipelines`` and ``/api/v1/config/validate``: the catalog, its taxonomy, config checks.

No credentials are needed here. On the pipeline routes a key that is sent is checked (an invalid one
is 401, as the contract's pipeline examples show); config validation ignores credentials.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from mediaforge.api.deps import Principal, Rt, authenticate, get_runtime
from mediaforge.faces.videoannotator.envelope import va_router
from mediaforge.faces.videoannotator.errors import PipelineNotFound
from mediaforge.faces.videoannotator.pipelines import CATALOG, find, info
from mediaforge.faces.videoannotator.schemas import (
    ConfigValidationRequest,
    ConfigValidationResponse,
    PipelineConfigValidationRequest,
    PipelineConfigValidationResponse,
    PipelineInfo,
    PipelineListResponse,
)
from mediaforge.faces.videoannotator.validation import validate

__all__ = ["optional_caller", "router"]


def optional_caller(request: Request) -> Principal | None:
    """The caller when credentials were sent (401 when they are invalid), else None."""
    return authenticate(get_runtime(request), request)


router = va_router(prefix="/api/v1")
_Checked = [Depends(optional_caller)]


@router.get("/pipelines/", response_model=PipelineListResponse, tags=["pipelines"], dependencies=_Checked)
def list_pipelines(rt: Rt) -> PipelineListResponse:
    """Every pipeline in the catalog with its taxonomy; ``enabled`` says whether it runs here."""
    pipelines = [info(p, rt.registry) for p in CATALOG]
    return PipelineListResponse(pipelines=pipelines, total=len(pipelines))


router.add_api_route(
    "/pipelines",
    list_pipelines,
    methods=["GET"],
    response_model=PipelineListResponse,
    include_in_schema=False,
    dependencies=_Checked,
)


@router.get(
    "/pipelines/{pipeline_name}", response_model=PipelineInfo, tags=["pipelines"], dependencies=_Checked
)
def get_pipeline_info(pipeline_name: str, rt: Rt) -> PipelineInfo:
    """One pipeline by name (or short alias); 404 PIPELINE_NOT_FOUND."""
    pipeline = find(pipeline_name)
    if pipeline is None:
        raise PipelineNotFound(pipeline_name)
    return info(pipeline, rt.registry)


@router.post(
    "/pipelines/{pipeline_name}/validate",
    response_model=PipelineConfigValidationResponse,
    tags=["pipelines"],
    dependencies=_Checked,
)
def validate_pipeline_config(
    pipeline_name: str, body: PipelineConfigValidationRequest, rt: Rt
) -> PipelineConfigValidationResponse:
    """Check one pipeline's config: the bare parameters, or keyed by the pipeline's name."""
    pipeline = find(pipeline_name)
    if pipeline is None:
        raise PipelineNotFound(pipeline_name)
    config: dict[str, Any] = body.config
    keyed = any(find(key) is not None and isinstance(value, dict) for key, value in config.items())
    if not keyed:
        config = {pipeline.name: config}
    selected = body.selected_pipelines if body.selected_pipelines is not None else [pipeline.name]
    outcome = validate(config, selected, rt.registry)
    return PipelineConfigValidationResponse(
        valid=outcome.valid, errors=outcome.errors, warnings=outcome.warnings, message=outcome.message
    )


@router.post("/config/validate", response_model=ConfigValidationResponse, tags=["config"])
def validate_config(body: ConfigValidationRequest, rt: Rt) -> ConfigValidationResponse:
    """Check a whole config against the selected pipelines (an empty selection: those the config names)."""
    outcome = validate(body.config, body.selected_pipelines or None, rt.registry)
    return ConfigValidationResponse(
        valid=outcome.valid,
        errors=outcome.errors,
        warnings=outcome.warnings,
        message=outcome.message,
        pipelines_validated=outcome.validated,
    )
