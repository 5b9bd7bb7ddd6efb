"""All SQL of the VideoAnnotator face: its parent jobs by owner and status, their children, deletes."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, select
from sqlalchemy.orm import Session, aliased

from mediaforge.assets.models import Asset
from mediaforge.faces.videoannotator.translate import FACE, JOB_TYPE, STATUSES, Tree, status_word
from mediaforge.jobs.models import Job

__all__ = [
    "children_of",
    "count_by_status",
    "delete_tree",
    "get_tree",
    "outputs_of",
    "page",
    "trees",
]

_Child = aliased(Job)
_ACTIVE = ("queued", "running", "waiting")


def _parents(owner_id: str | None) -> Select[Job]:
    query = select(Job).where(Job.face == FACE, Job.type == JOB_TYPE, Job.parent_id.is_(None))
    return query.where(Job.owner_id == owner_id) if owner_id is not None else query


def _started() -> ColumnElement[bool]:
    return exists().where(_Child.parent_id == Job.id, _Child.status != "queued")


def _status_clause(status: str) -> ColumnElement[bool] | None:
    """The SQL for one VideoAnnotator status; None for a word that is not one (nothing matches)."""
    clauses: dict[str, ColumnElement[bool]] = {
        "completed": Job.status.in_(["succeeded", "expired"]),
        "failed": Job.status == "failed",
        "cancelled": Job.status == "cancelled",
        "pending": and_(Job.status.in_(_ACTIVE), ~_started()),
        "running": and_(Job.status.in_(_ACTIVE), _started()),
    }
    return clauses.get(status)


def page(
    session: Session, owner_id: str | None, status: str | None, *, offset: int, limit: int
) -> tuple[list[Tree], int]:
    """One page of jobs (newest first) and how many match in all."""
    query = _parents(owner_id)
    if status is not None:
        clause = _status_clause(status)
        if clause is None:
            return [], 0
        query = query.where(clause)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).offset(offset).limit(limit))
    return trees(session, list(rows)), total


def get_tree(session: Session, job_id: str, owner_id: str | None, *, for_update: bool = False) -> Tree | None:
    """The job ``owner_id`` may see (None: any owner), with its children and video; else None."""
    query = _parents(owner_id).where(Job.id == job_id)
    if for_update:
        query = query.with_for_update()
    parent = session.scalars(query).first()
    return trees(session, [parent])[0] if parent is not None else None


def trees(session: Session, parents: list[Job]) -> list[Tree]:
    """Each parent with its children (in pipeline order) and its video, in two queries."""
    kids = children_of(session, [p.id for p in parents])
    video_ids = [p.inputs[0] for p in parents if p.inputs]
    videos = (
        {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(video_ids)))} if video_ids else {}
    )
    return [Tree(p, kids.get(p.id, []), videos.get(p.inputs[0]) if p.inputs else None) for p in parents]


def children_of(session: Session, parent_ids: list[str]) -> dict[str, list[Job]]:
    if not parent_ids:
        return {}
    out: dict[str, list[Job]] = {}
    query = select(Job).where(Job.parent_id.in_(parent_ids)).order_by(Job.created_at, Job.id)
    for child in session.scalars(query):
        assert child.parent_id is not None
        out.setdefault(child.parent_id, []).append(child)
    return out


def outputs_of(session: Session, children: list[Job]) -> dict[str, Asset]:
    """child id -> its first output (the pipeline's annotation file)."""
    first = {c.outputs[0]: c.id for c in children if c.outputs}
    if not first:
        return {}
    rows = session.scalars(select(Asset).where(Asset.id.in_(list(first))))
    return {first[a.id]: a for a in rows}


def count_by_status(session: Session, owner_id: str | None = None) -> dict[str, int]:
    """How many jobs are in each VideoAnnotator status (every status present, zeros included)."""
    started = _started().label("started")
    query = select(Job.status, started, func.count()).group_by(Job.status, started)
    query = query.where(Job.face == FACE, Job.type == JOB_TYPE, Job.parent_id.is_(None))
    if owner_id is not None:
        query = query.where(Job.owner_id == owner_id)
    counts: Counter[str] = Counter({s: 0 for s in STATUSES})
    for status, has_started, n in session.execute(query):
        counts[status_word(status, started=bool(has_started))] += n
    return dict(counts)


def delete_tree(session: Session, parent_id: str) -> None:
    """Remove the job and its children (rows only; their files are the caller's to delete first)."""
    session.execute(delete(Job).where(Job.parent_id == parent_id))
    session.execute(delete(Job).where(Job.id == parent_id))


def ids_in_status(
    session: Session, status: str, limit: int = 100, *, owner_id: str | None = None
) -> list[str]:
    """Ids of (up to ``limit``) jobs in one VideoAnnotator status, newest first (``owner_id``'s only)."""
    clause = _status_clause(status)
    if clause is None:
        return []
    query = _parents(owner_id).where(clause).order_by(Job.created_at.desc()).limit(limit)
    return [job.id for job in session.scalars(query)]
