"""The recent-requests ring buffer behind ``/api/v1/debug/request-log`` (a pure-ASGI middleware).

It keeps the last 100 VideoAnnotator requests (``/api/v1/...`` and ``/health``) on ``app.state``,
plus counters for ``/debug/server-info``: total requests, those in the last hour, mean response time.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediaforge.clock import utcnow
from mediaforge.faces.videoannotator.envelope import iso

__all__ = ["RETAINED", "RequestLog", "RequestLogMiddleware", "log_of"]

RETAINED = 100
_HOUR = 3600.0


@dataclass
class RequestLog:
    entries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RETAINED))
    total: int = 0
    total_ms: float = 0.0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))

    def add(self, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self.total += 1
        self.total_ms += entry["response_time_ms"]
        self.recent.append(time.monotonic())

    def stats(self) -> dict[str, Any]:
        cutoff = time.monotonic() - _HOUR
        while self.recent and self.recent[0] < cutoff:
            self.recent.popleft()
        average = self.total_ms / self.total if self.total else 0.0
        return {
            "total_requests": self.total,
            "requests_last_hour": len(self.recent),
            "average_response_time_ms": round(average, 2),
        }

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest first."""
        return list(reversed(self.entries))[:limit]


def log_of(state: Any) -> RequestLog:
    """The app's log (created on first use)."""
    log: RequestLog | None = getattr(state, "va_request_log", None)
    if log is None:
        log = RequestLog()
        state.va_request_log = log
    return log


class RequestLogMiddleware:
    """Records method, path, status, time and the caller's credential kind of VideoAnnotator requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith("/api/v1/") or path == "/health"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            headers = dict(scope.get("headers") or [])
            authorization = headers.get(b"authorization", b"")[:7].lower() == b"bearer "
            entry = {
                "timestamp": iso(utcnow()),
                "method": scope.get("method"),
                "path": path,
                "status_code": status,
                "response_time_ms": round((time.perf_counter() - started) * 1000, 2),
                "authenticated": authorization or b"x-api-key" in headers,
            }
            if "app" in scope:
                log_of(scope["app"].state).add(entry)
