"""Tinify's cleanup: jobs past their ``expires_at`` go, with their processed files.

A job's original is a temp file that another job may still use: it goes when it expires itself
(here, or by the asset sweeper), never because one of its jobs did.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, or_, select

from mediaforge.assets.models import Asset
from mediaforge.clock import utcnow
from mediaforge.faces.tinify.translate import FACE
from mediaforge.jobs.models import Job
from mediaforge.runtime import Runtime

__all__ = ["expired_jobs", "scheduled"]


def expired_jobs(rt: Runtime, *, batch: int = 500) -> dict[str, Any]:
    """Delete every expired Tinify job and its files; ``{"deleted": n, "errors": [...]}``."""
    now = utcnow()
    cutoff = now - timedelta(seconds=rt.settings.tinify_job_ttl_seconds)
    deleted, errors = 0, []
    while True:
        with rt.db.session() as session:
            rows = list(session.scalars(
                select(Job).where(Job.face == FACE, Job.created_at <= cutoff, Job.parent_id.is_(None))
                .order_by(Job.created_at).limit(batch)
            ))  # fmt: skip
            job_ids = [job.id for job in rows]
            files = Asset.id.in_({a for job in rows for a in (*job.inputs, *job.outputs)}) & or_(
                Asset.job_id.in_(job_ids), Asset.expires_at <= now
            )
            blobs = list(session.scalars(select(Asset.storage_key).where(files)))
            session.execute(delete(Asset).where(files))
            session.execute(delete(Job).where(Job.id.in_(job_ids)))
        for key in blobs:  # after the commit: a crash here leaves an orphan blob, never a dangling row
            try:
                rt.storage.delete(key)
            except Exception as exc:
                errors.append(f"{key}: {exc}")
        deleted += len(rows)
        if len(rows) < batch:
            return {"success": True, "deleted": deleted, "errors": errors}


def scheduled(rt: Runtime, day: date) -> int:
    """The built-in scheduler's daily run."""
    return int(expired_jobs(rt)["deleted"])
