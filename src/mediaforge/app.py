"""The ASGI application: every face on one port, and the background parts the server runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from mediaforge import __version__
from mediaforge.api import accounts, assets, billing, credits, events, jobs, subscriptions, system, workflows
from mediaforge.api.errors import install_error_handlers
from mediaforge.api.middleware import RequestContext
from mediaforge.config import Settings, get_settings
from mediaforge.db.migrate import migrate
from mediaforge.engine.sweeper import Sweeper
from mediaforge.engine.worker import Worker
from mediaforge.events.hub import Hub
from mediaforge.faces import ifolor, tinify, videoannotator
from mediaforge.faces.tinify import cleanup as tinify_cleanup
from mediaforge.runtime import Runtime
from mediaforge.scheduler import DAILY, scheduler
from mediaforge.webhooks.dispatcher import webhook_dispatcher

__all__ = ["create_app"]

Background = Callable[[Runtime], AbstractAsyncContextManager[None]]
"""Something the server runs for its lifetime (the embedded worker, the event hub, ...)."""

ROUTERS: tuple[APIRouter, ...] = (
    accounts.router,
    credits.router,
    billing.router,
    assets.router,
    jobs.router,
    events.router,
    workflows.router,
    subscriptions.router,
    system.router,
    tinify.router,
    ifolor.router,
    videoannotator.router,
)


def create_app(
    settings: Settings | None = None, *, workers: int | None = 0, run_migrations: bool = True
) -> FastAPI:
    """Build the app. ``workers`` work processes run in-process (0 = API only, None = from settings)."""
    settings = settings or get_settings()
    slots = settings.embedded_workers if settings.embedded_workers is not None else settings.concurrency
    hub = Hub(settings)
    background: list[Background] = [
        hub.run,
        _embedded_worker(slots if workers is None else workers),
        webhook_dispatcher,
        scheduler({**DAILY, "tinify_cleanup": tinify_cleanup.scheduled}),
    ]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            migrate(settings.database_url)
        runtime = Runtime.from_settings(settings)
        app.state.runtime = runtime
        async with AsyncExitStack() as stack:
            stack.callback(runtime.close)
            for part in background:
                await stack.enter_async_context(part(runtime))
            yield

    app = FastAPI(
        title="mediaforge",
        version=__version__,
        lifespan=lifespan,
        description="Self-hostable AI media processing: assets, jobs, workflows. Native API under /v1.",
    )
    install_error_handlers(app)
    app.state.hub = hub
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(videoannotator.RequestLogMiddleware)
    app.add_middleware(RequestContext)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Content-Disposition", "X-Session-Token", "Retry-After"],
    )
    return app


def _embedded_worker(slots: int) -> Background:
    @asynccontextmanager
    async def run(runtime: Runtime) -> AsyncIterator[None]:
        if not slots:
            Sweeper(runtime).run()
            yield
            return
        worker = Worker(runtime, concurrency=slots)
        worker.start()
        try:
            yield
        finally:
            worker.stop(drain_timeout=runtime.settings.cancel_grace_seconds)

    return run
