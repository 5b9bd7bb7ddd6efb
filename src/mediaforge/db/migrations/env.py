"""Alembic environment: our metadata, our engine factory (pragmas included)."""

from __future__ import annotations

from alembic import context

from mediaforge.db.engine import Database
from mediaforge.db.models import Base

config = context.config
database = Database(config.get_main_option("sqlalchemy.url") or "")

with database.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=database.dialect == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
database.dispose()
