"""Workflows: a DAG spec whose steps run as jobs (``jobs.workflow_id`` + ``jobs.step_id``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from mediaforge.clock import new_id, utcnow
from mediaforge.db.base import Base
from mediaforge.db.types import JSONType, UTCDateTime

__all__ = ["Workflow"]


class Workflow(Base):
    """A submitted DAG; its status is derived from its steps' jobs after every step change."""

    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(128), index=True)
    face: Mapped[str] = mapped_column(String(32), default="native")
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="running")
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
