"""The Tinify.ai face (``specs/tinify-ai.openapi.json``): image optimization at the root paths."""

from __future__ import annotations

from fastapi import APIRouter

from mediaforge.faces.tinify import account, images, streams

__all__ = ["router"]

router = APIRouter()
# The streams first: ``/status/stream`` must match before ``/status/{job_id}``.
for part in (streams.router, images.router, account.router):
    router.include_router(part)
