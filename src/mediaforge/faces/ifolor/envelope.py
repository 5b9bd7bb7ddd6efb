"""Ifolor's error shape: Django Ninja's ``{"detail": "..."}`` (422 keeps Ninja's list of errors).

The contract declares only 400, 404 and 502 answers; core errors of other kinds that mean "this
request cannot be done" (409 conflicts, 413, 415, 422 parameter checks) are told as 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from mediaforge.api.errors import face_route

__all__ = ["IfolorEnvelope", "ifolor_router"]

_AS_BAD_REQUEST = frozenset({409, 413, 415, 422})


class IfolorEnvelope:
    def error(self, status: int, code: str, message: str, details: Any, headers: dict[str, str]) -> Response:
        if status in _AS_BAD_REQUEST:
            status = 400
        return JSONResponse({"detail": message}, status_code=status, headers=headers or None)

    def invalid(self, errors: list[dict[str, Any]]) -> Response:
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def ifolor_router(**kwargs: Any) -> APIRouter:
    """A router whose errors speak Ifolor."""
    return APIRouter(route_class=face_route(IfolorEnvelope()), **kwargs)
