"""jobs: the children index also holds their status (a parent's "any child unfinished?" is a seek)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_parent_status", "jobs", ["parent_id", "status"], unique=False)
    op.drop_index("ix_jobs_parent_id", table_name="jobs")


def downgrade() -> None:
    op.create_index("ix_jobs_parent_id", "jobs", ["parent_id"], unique=False)
    op.drop_index("ix_jobs_parent_status", table_name="jobs")
