"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, create_engine

from mediaforge.db.models import Base

EXPRESSION_INDEXES = {
    index.name
    for table in Base.metadata.tables.values()
    for index in table.indexes
    if not all(isinstance(e, Column) for e in index.expressions)
}


def _comparable(obj: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """SQLite cannot reflect expression indexes (``priority DESC``); PostgreSQL checks those."""
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    opts = {"include_object": _comparable} if engine.dialect.name == "sqlite" else {}
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    finally:
        engine.dispose()
    assert [] == diff
