"""The ASGI application: every face on one port, plus the embedded worker when asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mediaforge import __version__
from mediaforge.api import assets, jobs, system, workflows
from mediaforge.api.errors import install_error_handlers
from mediaforge.api.middleware import RequestContext
from mediaforge.config import Settings, get_settings
from mediaforge.db.migrate import migrate
from mediaforge.engine.sweeper import Sweeper
from mediaforge.engine.worker import Worker
from mediaforge.runtime import Runtime

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None, *, workers: int | None = 0, run_migrations: bool = True
) -> FastAPI:
    """Build the app. ``workers`` work processes run in-process (0 = API only, None = from settings)."""
    settings = settings or get_settings()
    slots = (
        (settings.embedded_workers if settings.embedded_workers is not None else settings.concurrency)
        if workers is None
        else workers
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            migrate(settings.database_url)
        runtime = Runtime.from_settings(settings)
        app.state.runtime = runtime
        worker = Worker(runtime, concurrency=slots) if slots else None
        if worker is not None:
            worker.start()
        else:
            Sweeper(runtime).run()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop(drain_timeout=settings.cancel_grace_seconds)
            runtime.close()

    app = FastAPI(
        title="mediaforge",
        version=__version__,
        lifespan=lifespan,
        description="Self-hostable AI media processing: assets, jobs, workflows. Native API under /v1.",
    )
    install_error_handlers(app)
    for module in (assets, jobs, workflows, system):
        app.include_router(module.router)
    app.add_middleware(RequestContext)
    return app
