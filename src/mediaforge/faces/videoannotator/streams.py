"""``/api/v1/events/stream`` (live SSE) and ``/api/v1/debug/mock-events`` (a short, finite one).

EventSource cannot send headers, so ``?token=`` carries the key. The stream opens with an unnamed
``{"type": "connected"}`` message, sends ``{"type": "heartbeat"}`` when idle, and turns the core's
events of the caller's VideoAnnotator jobs (parents and their per-pipeline children) into named
events ``job.update``, ``job.complete``, ``job.error`` and ``job.cancelled``, each with the job's
current state. ``?job_id=`` follows one job (its current state is sent at once). Each event carries
its id, so a reconnect with ``Last-Event-ID`` resumes where the client left off. Without credentials
(auth on) the stream carries only heartbeats: events are per owner.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from mediaforge.api.deps import Principal, authenticate, get_runtime
from mediaforge.clock import utcnow
from mediaforge.errors import BadRequest
from mediaforge.events.hub import CutOff, Filter, Hub, Message
from mediaforge.faces.videoannotator import queries
from mediaforge.faces.videoannotator.envelope import iso, va_router
from mediaforge.faces.videoannotator.errors import JobNotFound
from mediaforge.faces.videoannotator.translate import (
    CHILD_STATUS,
    FACE,
    JOB_TYPE,
    Tree,
    progress_of,
    render,
    status_of,
)
from mediaforge.runtime import Runtime

__all__ = ["router"]

router = va_router(prefix="/api/v1")
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}
}
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_NAMES = {"job.completed": "job.complete", "job.failed": "job.error", "job.cancelled": "job.cancelled"}
_FINAL = {"completed": "job.complete", "failed": "job.error", "cancelled": "job.cancelled"}
Token = Annotated[str | None, Query(description="API token for authentication")]
JobId = Annotated[str | None, Query(description="Job ID to monitor")]


@router.get("/events/stream", response_class=StreamingResponse, responses=_SSE, tags=["events"])
async def events_stream(
    request: Request,
    token: Token = None,
    job_id: JobId = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", include_in_schema=False)] = None,
) -> StreamingResponse:
    """Server-Sent Events for the caller's jobs: heartbeats, then job.update / job.complete / job.error /
    job.cancelled as their state changes."""
    rt = get_runtime(request)
    who = await run_in_threadpool(authenticate, rt, request, query=True)
    ids = await run_in_threadpool(_followed, rt, who, job_id)
    frames = _live(rt, request.app.state.hub, who, job_id, ids, _resume_point(last_event_id))
    return StreamingResponse(frames, media_type="text/event-stream", headers=_HEADERS)


@router.get("/debug/mock-events", response_class=StreamingResponse, responses=_SSE, tags=["debug"])
async def mock_sse_events(request: Request, token: Token = None, job_id: JobId = None) -> StreamingResponse:
    """A short, finite stream for client testing: connected, the job's current state (when ``job_id`` is
    one of the caller's jobs), then ``connection.close``."""
    rt = get_runtime(request)
    who = await run_in_threadpool(authenticate, rt, request, query=True)
    tree = await run_in_threadpool(_tree, rt, who, job_id) if job_id and who else None

    async def frames() -> AsyncIterator[bytes]:
        yield _data({"type": "connected", "timestamp": _now(), "job_id": job_id})
        if tree is not None:
            state = _state(tree)
            yield _event("job.update", None, {**state, "type": "job.update"})
            final = _FINAL.get(state["status"])
            if final:
                yield _event(final, None, {**state, "type": final})
        elif job_id:
            yield _data({"type": "job.log", "job_id": job_id, "level": "warning", "message": "Job not found"})
        yield _data({"type": "connection.close", "timestamp": _now(), "message": "Mock stream finished"})

    return StreamingResponse(frames(), media_type="text/event-stream", headers=_HEADERS)


def _resume_point(header: str | None) -> int | None:
    if header is None or not header.strip():
        return None
    try:
        return max(0, int(header.strip()))
    except ValueError:
        raise BadRequest("Last-Event-ID must be an event id", code="invalid_last_event_id") from None


def _followed(rt: Runtime, who: Principal | None, job_id: str | None) -> frozenset[str] | None:
    """The core job ids behind ``job_id`` (the parent and its children); None follows every job."""
    if job_id is None or who is None:
        return None
    tree = _tree(rt, who, job_id)
    if tree is None:
        raise JobNotFound(job_id)
    return frozenset({tree.parent.id, *(c.id for c in tree.children)})


def _tree(rt: Runtime, who: Principal | None, job_id: str | None) -> Tree | None:
    if who is None or job_id is None:
        return None
    with rt.db.session(read_only=True) as session:
        return queries.get_tree(session, job_id, who.sees)


async def _live(
    rt: Runtime,
    hub: Hub,
    who: Principal | None,
    job_id: str | None,
    ids: frozenset[str] | None,
    after_id: int | None,
) -> AsyncIterator[bytes]:
    settings = rt.settings
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.sse_max_connection_seconds
    yield f"retry: {settings.sse_retry_ms}\n\n".encode()
    yield _data(
        {
            "type": "connected",
            "timestamp": _now(),
            "message": "Connected to VideoAnnotator event stream",
            "job_id": job_id,
            "authenticated": who is not None,
        }
    )
    if who is None:
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(settings.sse_heartbeat_seconds, left))
            yield _heartbeat()
        return
    flt = Filter(who.sees, job_ids=ids, types=frozenset({"job.*"}))
    async with hub.follow(flt, after_id=after_id) as feed:
        async for page in feed.history():
            yield await run_in_threadpool(_frames, rt, who, page)
        if job_id is not None and after_id is None:
            tree = await run_in_threadpool(_tree, rt, who, job_id)
            if tree is not None:
                state = _state(tree)
                yield _event(_FINAL.get(state["status"], "job.update"), None, state)
        while (left := deadline - loop.time()) > 0:
            try:
                batch = await feed.next(min(settings.sse_heartbeat_seconds, left))
            except CutOff:
                yield _data({"type": "connection.close", "message": "too far behind; reconnect"})
                return
            if batch:
                yield await run_in_threadpool(_frames, rt, who, batch)
            elif deadline > loop.time():
                yield _heartbeat()


def _frames(rt: Runtime, who: Principal, batch: list[Message]) -> bytes:
    """One named event per VideoAnnotator core event, each with the job's state as of now."""
    mine = []
    for message in batch:
        if f'"{FACE}"' not in message.data:  # cheap: other faces' jobs never carry our meta key
            continue
        payload = json.loads(message.data)
        meta = (payload.get("meta") or {}).get(FACE)
        if meta is None:
            continue
        mine.append((message, payload, meta))
    if not mine:
        return b""
    wanted = {p["id"] if p.get("type") == JOB_TYPE else p.get("parent_id") for _, p, _ in mine}
    with rt.db.session(read_only=True) as session:
        found = {t.parent.id: t for i in wanted if i and (t := queries.get_tree(session, i, who.sees))}
    out = []
    for message, payload, meta in mine:
        parent = payload["id"] if payload.get("type") == JOB_TYPE else payload.get("parent_id")
        tree = found.get(parent) if parent else None
        state = _state(tree) if tree else {"job_id": parent, "id": parent, "status": "deleted"}
        if payload.get("type") == JOB_TYPE:
            name = _NAMES.get(message.type, "job.update")
        else:
            name = "job.update"
            state = {
                **state,
                "pipeline": meta.get("pipeline"),
                "pipeline_status": _pipeline_word(payload.get("status", "")),
                "pipeline_progress": payload.get("progress"),
            }
        out.append(_event(name, message.id, {**state, "type": name, "source_event": message.type}))
    return b"".join(out)


def _state(tree: Tree) -> dict[str, Any]:
    job = render(tree)
    progress = progress_of(tree)
    return {
        "job_id": job.id,
        "id": job.id,
        "status": status_of(tree.parent, tree.children),
        "progress": progress,
        "progress_percentage": progress,
        "error_message": job.error_message,
        "timestamp": _now(),
        "job": job.model_dump(mode="json"),
    }


def _pipeline_word(core_status: str) -> str:
    return CHILD_STATUS.get(core_status, core_status)


def _heartbeat() -> bytes:
    return _data({"type": "heartbeat", "timestamp": _now(), "message": "Server is alive"})


def _now() -> str:
    return iso(utcnow()) or ""


def _data(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _event(name: str, event_id: int | None, data: dict[str, Any]) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
