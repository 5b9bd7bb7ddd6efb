"""The VideoAnnotator 1.3.0 face (``specs/videoannotator.openapi.json``): video annotation, ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from mediaforge.faces.videoannotator import catalog, jobs, streams, system
from mediaforge.faces.videoannotator.requestlog import RequestLogMiddleware

__all__ = ["RequestLogMiddleware", "router"]

router = APIRouter()
for part in (jobs.router, catalog.router, streams.router, system.router):
    router.include_router(part)
