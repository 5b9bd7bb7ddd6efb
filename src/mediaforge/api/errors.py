"""Error envelopes: the native one, and the one each face's contract fixes, chosen by the matched route.

Native: ``{"error": {"code", "message", "details"?}, "request_id"}``. A face builds its router with
``APIRouter(route_class=face_route(its_envelope))`` and every error raised under those routes —
expected errors, payload validation, HTTP errors — is rendered in its contract's words.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from mediaforge.errors import MediaforgeError

__all__ = ["Envelope", "NativeEnvelope", "envelope", "face_route", "install_error_handlers"]

log = structlog.get_logger(__name__)
_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


class Envelope(Protocol):
    """How one API shape renders its errors."""

    def error(
        self, status: int, code: str, message: str, details: Any, headers: dict[str, str]
    ) -> Response: ...

    def invalid(self, errors: list[dict[str, Any]]) -> Response: ...


def envelope(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The native error body."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    body: dict[str, Any] = {"error": {"code": code, "message": message}, "request_id": request_id}
    if details is not None:
        body["error"]["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


class NativeEnvelope:
    def error(self, status: int, code: str, message: str, details: Any, headers: dict[str, str]) -> Response:
        return envelope(status, code, message, details, headers)

    def invalid(self, errors: list[dict[str, Any]]) -> Response:
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        return envelope(422, "validation_error", "the request payload is invalid", details)


NATIVE = NativeEnvelope()


def face_route(face_envelope: Envelope) -> type[APIRoute]:
    """A route class whose errors render in ``face_envelope``."""

    class FaceRoute(APIRoute):
        envelope: ClassVar[Envelope] = face_envelope

    return FaceRoute


def _envelope_of(request: Request) -> Envelope:
    found: Envelope = getattr(request.scope.get("route"), "envelope", NATIVE)
    return found


def install_error_handlers(app: FastAPI) -> None:
    """One handler per error family; the matched route picks the envelope."""

    @app.exception_handler(MediaforgeError)
    async def _expected(request: Request, exc: MediaforgeError) -> Response:
        return _envelope_of(request).error(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _envelope_of(request).invalid(list(exc.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        return _envelope_of(request).error(exc.status_code, code, str(exc.detail), None, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return _envelope_of(request).error(500, "internal_error", "an unexpected error occurred", None, {})
