"""The built-in scheduler: work that runs every day at midnight UTC in each server process.

Every task is idempotent per day (a second server, or a cron calling the same function through an
API face, changes nothing), so no leader election is needed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import date, datetime, timedelta

import structlog
from starlette.concurrency import run_in_threadpool

from mediaforge.clock import utcnow
from mediaforge.credits import ledger
from mediaforge.runtime import Runtime

__all__ = ["DAILY", "run_daily", "scheduler"]

log = structlog.get_logger(__name__)


def refresh_credits(rt: Runtime, day: date) -> int:
    """Reset guests and free accounts to their daily allowance (the contract's midnight refresh)."""
    with rt.db.session() as session:
        return ledger.refresh_daily(session, rt.settings, day)


DAILY: dict[str, Callable[[Runtime, date], int]] = {"refresh_credits": refresh_credits}
"""The core's daily tasks; the app adds the faces' own (Tinify's cleanup)."""


Task = Callable[[Runtime, date], int]


def run_daily(rt: Runtime, day: date | None = None, tasks: dict[str, Task] | None = None) -> dict[str, int]:
    """Run every daily task for ``day`` (today, UTC) now; returns how much each one did."""
    day = day or utcnow().date()
    done = {name: task(rt, day) for name, task in (DAILY if tasks is None else tasks).items()}
    log.info("daily_tasks", day=day.isoformat(), **done)
    return done


def seconds_until_midnight(now: datetime) -> float:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - now).total_seconds()


def scheduler(tasks: dict[str, Task]) -> Callable[[Runtime], AbstractAsyncContextManager[None]]:
    """A server part that runs ``tasks`` at each midnight UTC for as long as the server runs."""

    @asynccontextmanager
    async def run(rt: Runtime) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds_until_midnight(utcnow()) + 1)
                try:
                    await run_in_threadpool(run_daily, rt, None, tasks)
                except Exception:
                    log.exception("daily_tasks_failed")

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    return run
