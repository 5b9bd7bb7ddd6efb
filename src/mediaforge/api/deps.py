"""Request dependencies: the runtime, a unit of work, and who is calling."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from mediaforge.errors import Unauthorized
from mediaforge.runtime import Runtime

__all__ = ["DbSession", "Principal", "ReadSession", "Rt", "Who"]

LOCAL_OWNER = "local"


@dataclass(frozen=True)
class Principal:
    """The caller; every query is scoped by ``owner_id``."""

    owner_id: str


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: Rt) -> Iterator[Session]:
    with rt.db.session() as session:
        yield session


def get_read_session(rt: Rt) -> Iterator[Session]:
    with rt.db.session(read_only=True) as session:
        yield session


# scope="function": the unit of work commits before the response is sent, so a client that got a
# 201 can read what it created from any process at once.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]


def get_principal(request: Request, rt: Rt) -> Principal:
    """``X-API-Key`` or ``Authorization: Bearer``; with no keys configured, one local owner."""
    return principal_for(rt.settings.owner_keys(), request)


def principal_for(keys: dict[str, str], conn: HTTPConnection, *, query_key: bool = False) -> Principal:
    """The owner of the key this connection presents (``?api_key=`` too when ``query_key``)."""
    if not keys:
        return Principal(LOCAL_OWNER)
    auth = conn.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    token = (
        conn.headers.get("x-api-key") or bearer or (conn.query_params.get("api_key", "") if query_key else "")
    )
    for key, owner in keys.items():
        if token and hmac.compare_digest(token.encode(), key.encode()):
            return Principal(owner)
    raise Unauthorized("a valid API key is required (X-API-Key or Authorization: Bearer)")


Who = Annotated[Principal, Depends(get_principal)]
