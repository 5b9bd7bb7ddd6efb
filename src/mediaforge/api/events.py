"""Live events: SSE on ``/v1/events`` and ``/v1/jobs/{id}/events``, a websocket on ``/v1/events/ws``.

Every message carries its event id; a client that reconnects with ``Last-Event-ID`` (or
``last_event_id``) gets exactly the events it missed, from the table, then live ones. Browsers cannot
set headers on ``EventSource`` or websockets, so ``api_key`` may also come as a query parameter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, WebSocket
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect

from mediaforge.api.deps import Caller, Principal, Rt, require
from mediaforge.config import Settings
from mediaforge.errors import BadRequest, MediaforgeError
from mediaforge.events import repository as events
from mediaforge.events.hub import CutOff, Feed, Filter, Hub
from mediaforge.events.types import TERMINAL_JOB_EVENTS, EventType
from mediaforge.jobs import service as jobs
from mediaforge.jobs.states import TERMINAL, JobStatus
from mediaforge.runtime import Runtime

__all__ = ["router"]

router = APIRouter(tags=["events"])

_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "An event stream."}
}
_KNOWN = frozenset({*EventType, "*", "job.*", "workflow.*"})


def get_hub(conn: HTTPConnection) -> Hub:
    hub: Hub = conn.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]
Watcher = Annotated[Principal, Caller("events:read", query=True)]
"""Also ``?token=`` / ``?api_key=``: EventSource and browser websockets send no headers."""
JobIds = Annotated[list[str] | None, Query(alias="job_id", description="Only these jobs (repeatable).")]
Types = Annotated[
    str | None, Query(description="Comma-separated event types; `job.*` and `workflow.*` match a family.")
]
ResumeQuery = Annotated[int | None, Query(ge=0, description="Resume after this event id.")]
ResumeHeader = Annotated[str | None, Header(alias="Last-Event-ID", include_in_schema=False)]


@router.get("/v1/events", response_class=StreamingResponse, responses=_SSE)
async def stream_events(
    rt: Rt,
    hub: HubDep,
    who: Watcher,
    job_id: JobIds = None,
    workflow_id: str | None = None,
    types: Types = None,
    last_event_id: ResumeQuery = None,
    last_event_id_header: ResumeHeader = None,
) -> StreamingResponse:
    """Everything the caller owns, or only some jobs, a workflow or some types, as server-sent events.

    Live from now on; with ``Last-Event-ID`` (or ``last_event_id``) the missed events come first.
    """
    flt = _filter(who, job_id, workflow_id, types)
    feed = hub.follow(flt, after_id=_resume_point(last_event_id_header, last_event_id))
    return _sse(_frames(feed, rt.settings, until_terminal=False))


@router.get("/v1/jobs/{job_id}/events", response_class=StreamingResponse, responses=_SSE)
async def stream_job_events(
    job_id: str,
    rt: Rt,
    hub: HubDep,
    who: Watcher,
    last_event_id: ResumeQuery = None,
    last_event_id_header: ResumeHeader = None,
) -> Response:
    """One job's events from its creation (or after ``Last-Event-ID``); closes after its end.

    A job that has ended and has nothing after ``Last-Event-ID`` answers 204, which tells an
    ``EventSource`` to stop reconnecting.
    """
    after = _resume_point(last_event_id_header, last_event_id) or 0
    if await run_in_threadpool(_ended_and_told, rt, job_id, who.sees, after):
        return Response(status_code=204, headers=_STREAM_HEADERS)
    feed = hub.follow(Filter(who.sees, job_ids=frozenset({job_id})), after_id=after)
    return _sse(_frames(feed, rt.settings, until_terminal=True))


@router.websocket("/v1/events/ws")
async def events_socket(
    ws: WebSocket,
    job_id: JobIds = None,
    workflow_id: str | None = None,
    types: Types = None,
    last_event_id: ResumeQuery = None,
) -> None:
    """The ``/v1/events`` stream over a websocket: one JSON text frame ``{id, type, data}`` per event.

    Closes with 1013 when the client fell too far behind (resume with ``last_event_id``) and with
    1000 after the maximum connection lifetime.
    """
    try:
        flt = _filter(require(ws, ["events:read"], query=True), job_id, workflow_id, types)
    except MediaforgeError as exc:
        await ws.close(code=1008, reason=exc.message[:120])
        return
    runtime: Runtime = ws.app.state.runtime
    async with get_hub(ws).follow(flt, after_id=last_event_id) as feed:
        await ws.accept()
        pump = asyncio.create_task(_pump_socket(ws, feed, runtime.settings))
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass  # clients have nothing to say; reading notices when they leave
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)


# --- helpers ---------------------------------------------------------------------------------
def _filter(who: Principal, job_ids: list[str] | None, workflow_id: str | None, types: str | None) -> Filter:
    wanted = None
    if types:
        wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
        unknown = sorted(wanted - _KNOWN)
        if unknown:
            raise BadRequest(f"unknown event type(s): {', '.join(unknown)}", code="unknown_event_type")
    return Filter(
        who.sees, job_ids=frozenset(job_ids) if job_ids else None, workflow_id=workflow_id, types=wanted
    )


def _resume_point(header: str | None, query: int | None) -> int | None:
    """The header wins: an ``EventSource`` reconnects to the same URL with a newer header."""
    if header is None or not header.strip():
        return query
    try:
        value = int(header.strip())
    except ValueError:
        raise BadRequest("Last-Event-ID must be an event id", code="invalid_last_event_id") from None
    if value < 0:
        raise BadRequest("Last-Event-ID must be an event id", code="invalid_last_event_id")
    return value


def _ended_and_told(rt: Runtime, job_id: str, owner_id: str | None, after: int) -> bool:
    """404 for an unknown or foreign job; True when it has ended and nothing follows ``after``."""
    with rt.db.session(read_only=True) as session:
        job = jobs.get(session, job_id, owner_id)
        if JobStatus(job.status) not in TERMINAL or not after:
            return False
        return not events.since(session, after_id=after, owner_id=owner_id, job_id=job_id, limit=1)


def _sse(frames: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(frames, media_type="text/event-stream", headers=_STREAM_HEADERS)


async def _frames(
    follow: AbstractAsyncContextManager[Feed], settings: Settings, *, until_terminal: bool
) -> AsyncIterator[bytes]:
    """``retry:``, the history, then live events with ``: ping`` when idle, until the lifetime ends.

    ``until_terminal`` ends the stream after a job's terminal event (a job stream).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.sse_max_connection_seconds
    async with follow as feed:
        yield f"retry: {settings.sse_retry_ms}\n\n".encode()
        last_type = None
        async for page in feed.history():
            yield b"".join(m.sse for m in page)
            last_type = page[-1].type
        if until_terminal and last_type in TERMINAL_JOB_EVENTS:
            return
        while (left := deadline - loop.time()) > 0:
            try:
                batch = await feed.next(min(settings.sse_heartbeat_seconds, left))
            except CutOff:
                yield b": too far behind; reconnect with Last-Event-ID\n\n"
                return
            if not batch:
                if deadline > loop.time():
                    yield b": ping\n\n"
                continue
            if until_terminal:
                end = next((i for i, m in enumerate(batch) if m.type in TERMINAL_JOB_EVENTS), None)
                if end is not None:
                    yield b"".join(m.sse for m in batch[: end + 1])
                    return
            yield b"".join(m.sse for m in batch)


async def _pump_socket(ws: WebSocket, feed: Feed, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.sse_max_connection_seconds
    code, reason = 1000, "maximum connection lifetime reached"
    try:
        async for page in feed.history():
            for m in page:
                await ws.send_text(m.json())
        while (left := deadline - loop.time()) > 0:
            for m in await feed.next(left):
                await ws.send_text(m.json())
    except CutOff:
        code, reason = 1013, "too far behind; reconnect with last_event_id"
    except WebSocketDisconnect:
        return  # the client left while we were sending
    with suppress(WebSocketDisconnect, RuntimeError):  # it may have left just now
        await ws.close(code=code, reason=reason)
