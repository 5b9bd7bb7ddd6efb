"""Tinify's SSE streams: named events ``status``, ``complete``, ``done``, ``error``, ``timeout``.

Each stream registers with the event hub first, then reads the jobs' current state, so nothing that
happens in between is missed; it closes when its jobs are terminal, or after five minutes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from mediaforge.api.deps import get_runtime
from mediaforge.events.hub import Feed, Filter, Hub
from mediaforge.faces.tinify.envelope import tinify_router
from mediaforge.faces.tinify.images import JobIds, job_id_list, render_job
from mediaforge.faces.tinify.schemas import JobResponse
from mediaforge.faces.tinify.translate import FACE, TERMINAL
from mediaforge.jobs.models import Job
from mediaforge.runtime import Runtime

__all__ = ["LIMIT_SECONDS", "router"]

router = tinify_router(tags=["tinify"])
LIMIT_SECONDS = 300.0
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}
}
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get("/status/{job_id}/stream", response_class=StreamingResponse, responses=_SSE)
async def stream_one(job_id: str, request: Request) -> StreamingResponse:
    """``status`` while queued or processing, then ``complete`` (or ``error`` / ``timeout``) and close."""
    return _stream(request, [job_id], batch=False)


@router.get("/status/stream", response_class=StreamingResponse, responses=_SSE)
async def stream_many(job_ids: JobIds, request: Request) -> StreamingResponse:
    """Each job's ``status`` and ``complete``, then ``done`` with the totals once all are terminal."""
    return _stream(request, job_id_list(job_ids), batch=True)


def _stream(request: Request, job_ids: list[str], *, batch: bool) -> StreamingResponse:
    hub: Hub = request.app.state.hub
    frames = _frames(get_runtime(request), hub, job_ids, batch=batch)
    return StreamingResponse(frames, media_type="text/event-stream", headers=_HEADERS)


async def _frames(rt: Runtime, hub: Hub, job_ids: list[str], *, batch: bool) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(LIMIT_SECONDS, rt.settings.sse_max_connection_seconds)
    yield f"retry: {rt.settings.sse_retry_ms}\n\n".encode()
    owners = await run_in_threadpool(_owners, rt, job_ids)
    unknown = [j for j in job_ids if j not in owners]
    for job_id in unknown:
        yield _event("error", {"job_id": job_id, "error": "Job not found", "message": "Job not found"})
    if not owners:
        return
    final: dict[str, str] = {}
    # One owner per stream in practice; several owners are followed through one filter each.
    async with _follow_all(hub, owners) as feeds:
        for view in await run_in_threadpool(_render_all, rt, list(owners)):
            yield _update(view, final)
        while len(final) < len(owners) and (left := deadline - loop.time()) > 0:
            changed = await _next_changes(feeds, min(rt.settings.sse_heartbeat_seconds, left))
            if not changed:
                yield b": ping\n\n"
                continue
            for view in await run_in_threadpool(_render_all, rt, [j for j in changed if j not in final]):
                yield _update(view, final)
    if len(final) < len(owners):
        yield _event(
            "timeout", {"message": f"stream closed after {int(LIMIT_SECONDS)} s; reconnect to resume"}
        )
    elif batch:
        counts = {s: sum(1 for v in final.values() if v == s) for s in ("completed", "failed", "expired")}
        yield _event("done", {"total": len(final), **counts})


@asynccontextmanager
async def _follow_all(hub: Hub, owners: dict[str, str]) -> AsyncIterator[list[Feed]]:
    """Live feeds (registered now) of these jobs' events, one per owner."""
    by_owner: dict[str, set[str]] = {}
    for job_id, owner in owners.items():
        by_owner.setdefault(owner, set()).add(job_id)
    async with AsyncExitStack() as stack:
        feeds = [
            await stack.enter_async_context(hub.follow(Filter(owner, job_ids=frozenset(ids)), after_id=None))
            for owner, ids in by_owner.items()
        ]
        for feed in feeds:
            async for _ in feed.history():  # registers it; there is no history without after_id
                pass
        yield feeds


async def _next_changes(feeds: list[Feed], timeout: float) -> set[str]:
    """The ids of jobs with new events within ``timeout`` s (empty on silence)."""
    tasks = [asyncio.ensure_future(feed.next(timeout)) for feed in feeds]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    return {m.job_id for task in done if not task.cancelled() for m in task.result() if m.job_id}


def _update(view: JobResponse, final: dict[str, str]) -> bytes:
    data = {**view.model_dump(mode="json"), "job_id": view.id, "error": view.error_message}
    if view.status in TERMINAL:
        final[view.id] = view.status
        return _event("complete", data)
    return _event("status", data)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _owners(rt: Runtime, job_ids: list[str]) -> dict[str, str]:
    """job id -> owner for the Tinify jobs among ``job_ids``."""
    with rt.db.session(read_only=True) as session:
        rows = session.execute(select(Job.id, Job.owner_id).where(Job.id.in_(job_ids), Job.face == FACE))
        return {job_id: owner for job_id, owner in rows}


def _render_all(rt: Runtime, job_ids: list[str]) -> list[JobResponse]:
    with rt.db.session(read_only=True) as session:
        return [view for job_id in job_ids if (view := render_job(session, job_id)) is not None]
