"""What a delivery carries: the standard envelope, or the body a face's contract fixes.

A subscription made through a face (``Subscription.face``) gets that face's payload. Faces sit above
this package, so they are named here by import path and loaded on first use: every process that
fans out (``serve`` and ``mediaforge worker``) renders the same bodies without importing the app.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from mediaforge.events.models import Event
    from mediaforge.webhooks.models import Subscription

__all__ = ["FACE_RENDERERS", "Render", "render", "standard"]

log = structlog.get_logger(__name__)

Render = Callable[["Event", "Subscription"], dict[str, Any]]
"""A face's payload for one event sent to one of its subscriptions."""

FACE_RENDERERS: dict[str, str] = {
    "ifolor": "mediaforge.faces.ifolor.deliveries:payload",
}
"""Face name -> ``module:function`` of its ``Render``; faces not listed get the standard envelope."""


def standard(event: Event) -> dict[str, Any]:
    """``{type, timestamp, event_id, data}``: the event's payload as every channel shows it."""
    return {
        "type": event.type,
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
        "event_id": event.id,
        "data": event.payload,
    }


def render(event: Event, sub: Subscription | None) -> dict[str, Any]:
    """The body of ``event`` for ``sub`` (None: a job's own ``webhook_url``, always standard)."""
    face = sub.face if sub is not None else None
    if sub is None or face not in FACE_RENDERERS:
        return standard(event)
    try:
        return _renderer(FACE_RENDERERS[face])(event, sub)
    except Exception:  # a face's bug must not stall the outbox for every subscriber
        log.exception("webhook_payload_render_failed", face=face, event_id=event.id)
        return standard(event)


@cache
def _renderer(path: str) -> Render:
    module, _, name = path.partition(":")
    found: Render = getattr(import_module(module), name)
    return found
