"""Request dependencies: the runtime, a unit of work, and who is calling.

One auth path for every face: ``X-API-Key``, ``Authorization: Bearer`` (an API key, a session, device,
guest or worker token), ``X-Session-Token`` (a guest), and on streams ``?token=`` / ``?api_key=``
(browsers' EventSource cannot send headers). Routes name the scope they need: ``Caller("jobs:write")``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.security import SecurityScopes
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from mediaforge.clock import utcnow
from mediaforge.errors import Forbidden, Unauthorized
from mediaforge.identity import service as identity
from mediaforge.identity.principal import LOCAL, Principal
from mediaforge.runtime import Runtime

__all__ = [
    "Caller",
    "DbSession",
    "GuestOrCaller",
    "Principal",
    "ReadSession",
    "Rt",
    "authenticate",
    "caller_or_guest",
    "client_ip",
    "presented_token",
    "require",
]


def get_runtime(request: HTTPConnection) -> Runtime:
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


def client_ip(conn: HTTPConnection) -> str:
    """The peer address (behind a proxy, uvicorn's ``--forwarded-allow-ips`` makes it the client's)."""
    return conn.client.host if conn.client else "unknown"


def presented_token(conn: HTTPConnection, *, query: bool = False) -> str:
    """The credential this connection presents, or ''."""
    auth = conn.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    token = conn.headers.get("x-api-key") or bearer or conn.headers.get("x-session-token", "")
    if not token and query:
        token = conn.query_params.get("token") or conn.query_params.get("api_key") or ""
    return token.strip()


def authenticate(rt: Runtime, conn: HTTPConnection, *, query: bool = False) -> Principal | None:
    """The principal behind the presented credential; None when none was presented; 401 when invalid."""
    if rt.settings.auth_disabled:
        return LOCAL
    token = presented_token(conn, query=query)
    if not token:
        return None
    with rt.db.session(read_only=True) as session:
        found = identity.resolve(session, token)
        if found is None:
            raise Unauthorized("the credential is invalid, expired or revoked", code="invalid_credentials")
        credential, account = found
        caller = identity.principal(credential, account)
        now = utcnow()
        stale = identity.needs_touch(credential, now)
    if stale:
        with rt.db.session() as session:
            identity.touch(session, credential.id, now)
    rt.limiter.hit("api", credential.id)
    return caller


def require(conn: HTTPConnection, scopes: list[str], *, query: bool = False) -> Principal:
    """The authenticated caller holding every one of ``scopes`` (401 / 403 otherwise)."""
    caller = authenticate(get_runtime(conn), conn, query=query)
    if caller is None:
        raise Unauthorized("authentication required: X-API-Key or Authorization: Bearer")
    for scope in scopes:
        if not caller.allows(scope):
            raise Forbidden(f"this credential lacks the {scope!r} scope", code="insufficient_scope")
    return caller


def _caller(security_scopes: SecurityScopes, request: Request) -> Principal:
    return require(request, security_scopes.scopes)


def _stream_caller(security_scopes: SecurityScopes, conn: HTTPConnection) -> Principal:
    return require(conn, security_scopes.scopes, query=True)


def caller_or_guest(request: Request, response: Response) -> Principal:
    """The caller, or on first anonymous use a new guest, whose token goes back in ``X-Session-Token``.

    For faces that serve anonymous users (Tinify's uploads): the client resends that header later.
    """
    rt = get_runtime(request)
    caller = authenticate(rt, request)
    if caller is not None:
        return caller
    ip = client_ip(request)
    rt.limiter.hit("auth.guest", ip)
    with rt.db.session() as session:
        account, issued = identity.guest(session, rt.settings, ip)
        guest = identity.principal(issued.credential, account)
    response.headers["X-Session-Token"] = issued.token
    return guest


GuestOrCaller = Annotated[Principal, Depends(caller_or_guest)]


def Caller(*scopes: str, query: bool = False) -> Any:
    """``who: Annotated[Principal, Caller("jobs:write")]``: authenticated, with these scopes."""
    return Security(_stream_caller if query else _caller, scopes=list(scopes))
