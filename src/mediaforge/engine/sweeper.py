"""Periodic housekeeping, safe to run from many processes at once.

Expired leases go back to the queue (or fail after the last attempt), jobs whose start deadline
passed are cancelled, finished jobs past retention expire (outputs deleted), expired uploads are
deleted, and workers that stopped heart-beating are marked lost.
"""

from __future__ import annotations

import time

import structlog

from mediaforge.assets import service as assets
from mediaforge.assets.repository import AssetRepository
from mediaforge.clock import utcnow
from mediaforge.jobs import service as jobs
from mediaforge.jobs.repository import JobRepository
from mediaforge.processors.base import RetryPolicy
from mediaforge.runtime import Runtime
from mediaforge.workers import repository as workers

__all__ = ["Sweeper"]

log = structlog.get_logger(__name__)


class Sweeper:
    """One pass of every housekeeping rule; ``maybe_run`` rate-limits passes."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self._last = 0.0

    def maybe_run(self) -> None:
        if time.monotonic() - self._last >= self.rt.settings.sweep_interval_seconds:
            self._last = time.monotonic()
            self.run()

    def run(self) -> dict[str, int]:
        """Apply every rule once; returns how many rows each touched."""
        counts = {
            "leases": self._expired_leases(),
            "deadlines": self._start_deadlines(),
            "results": self._expired_results(),
        }
        with self.rt.db.session() as session:
            counts["assets"] = assets.sweep_expired(session, self.rt.storage)
            counts["workers"] = workers.mark_lost(session, utcnow())
        if any(counts.values()):
            log.info("swept", **counts)
        return counts

    def _expired_leases(self) -> int:
        s = self.rt.settings
        with self.rt.db.session() as session:
            now = utcnow()
            expired = JobRepository(session).expired_leases(now)
            for job in expired:
                policy = (
                    self.rt.registry.get(job.type).retry if job.type in self.rt.registry else RetryPolicy()
                )
                delay = policy.delay(
                    job.attempt, base=s.retry_backoff_seconds, cap=s.retry_backoff_max_seconds
                )
                jobs.lease_expired(session, job, s, delay)
        return len(expired)

    def _start_deadlines(self) -> int:
        with self.rt.db.session() as session:
            late = JobRepository(session).start_deadline_passed(utcnow())
            for job in late:
                jobs.cancel(session, job, self.rt.settings)
        return len(late)

    def _expired_results(self) -> int:
        with self.rt.db.session() as session:
            done = JobRepository(session).results_expired(utcnow())
            for job in done:
                for asset in AssetRepository(session).of_job(job.id):
                    assets.delete(session, self.rt.storage, asset)
                jobs.expire(session, job, self.rt.settings)
        return len(done)
