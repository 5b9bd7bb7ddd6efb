"""The Ifolor ai-backend face (``specs/ifolor-ai-backend.openapi.json``): photo intelligence, ``/api``."""

from __future__ import annotations

from fastapi import APIRouter

from mediaforge.faces.ifolor import actions, jobs, subscriptions

__all__ = ["router"]

router = APIRouter()
for part in (actions.router, jobs.router, subscriptions.router):
    router.include_router(part)
