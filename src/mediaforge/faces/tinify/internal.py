"""Who may call Tinify's scheduler and worker endpoints (``/internal/*``, ``/process``)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from mediaforge.api.deps import authenticate, get_runtime, presented_token
from mediaforge.errors import Forbidden

__all__ = ["Internal"]


def internal_caller(
    request: Request,
    x_cloudscheduler: Annotated[str | None, Header()] = None,
    x_scheduler_secret: Annotated[str | None, Header()] = None,
) -> None:
    """The scheduler's endpoints: ``X-CloudScheduler: true`` with the shared secret, or an admin.

    The header alone can be spoofed, so it never suffices (the contract leaves it optional).
    """
    rt = get_runtime(request)
    secret = rt.settings.scheduler_secret
    offered = x_scheduler_secret or presented_token(request)
    if secret is not None and offered and hmac.compare_digest(offered, secret.get_secret_value()):
        if (x_cloudscheduler or "").lower() != "true":
            raise Forbidden("X-CloudScheduler: true is required", code="scheduler_header_required")
        return
    caller = authenticate(rt, request)
    if caller is None or not caller.is_admin:
        raise Forbidden("this endpoint is for the scheduler", code="scheduler_only")


Internal = Depends(internal_caller)
