"""Tinify's error shape: FastAPI's ``{"detail": ...}``, with extra facts beside it when there are any."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from mediaforge.api.errors import face_route

__all__ = ["TinifyEnvelope", "tinify_router"]


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
