"""Tinify's error shape: FastAPI's ``{"detail": ...}``, with extra facts beside it when there are any."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from mediaforge.api.deps import authenticate, get_runtime, presented_token
from mediaforge.api.errors import face_route
from mediaforge.errors import Forbidden

__all__ = ["Internal", "TinifyEnvelope", "tinify_router"]


class TinifyEnvelope:
    def error(self, status: int, code: str, message: str, details: Any, headers: dict[str, str]) -> Response:
        body: dict[str, Any] = {"detail": message}
        if isinstance(details, dict):
            body.update({k: v for k, v in details.items() if k != "detail"})
        return JSONResponse(body, status_code=status, headers=headers or None)

    def invalid(self, errors: list[dict[str, Any]]) -> Response:
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def tinify_router(**kwargs: Any) -> APIRouter:
    """A router whose errors speak Tinify."""
    return APIRouter(route_class=face_route(TinifyEnvelope()), **kwargs)


def internal_caller(
    request: Request,
    x_cloudscheduler: Annotated[str | None, Header()] = None,
    x_scheduler_secret: Annotated[str | None, Header()] = None,
) -> None:
    """The scheduler's endpoints: ``X-CloudScheduler: true`` with the shared secret, or an admin.

    The header alone can be spoofed, so it never suffices (the contract leaves it optional).
    """
    rt = get_runtime(request)
    secret = rt.settings.scheduler_secret
    offered = x_scheduler_secret or presented_token(request)
    if secret is not None and offered and hmac.compare_digest(offered, secret.get_secret_value()):
        if (x_cloudscheduler or "").lower() != "true":
            raise Forbidden("X-CloudScheduler: true is required", code="scheduler_header_required")
        return
    caller = authenticate(rt, request)
    if caller is None or not caller.is_admin:
        raise Forbidden("this endpoint is for the scheduler", code="scheduler_only")


Internal = Depends(internal_caller)
