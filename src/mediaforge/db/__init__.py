"""Persistence: engine, unit of work, declarative base, portable column types, migrations."""

from __future__ import annotations

from mediaforge.db.base import Base
from mediaforge.db.engine import Database
from mediaforge.db.migrate import migrate

__all__ = ["Base", "Database", "migrate"]
