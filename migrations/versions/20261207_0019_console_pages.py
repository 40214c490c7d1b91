"""A childhood-data deletion marked done carries the reference of the case in the cohort's own system;
a roster checked in a dry run waits in ``roster_upload`` (hashes only) until its uploader applies it.

Revision ID: 0019_console_pages
Revises: 0017_console_sessions
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_console_pages"
down_revision: str | Sequence[str] | None = "0017_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deletion_request") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=100), nullable=True))
    op.create_table(
        "roster_upload",
        sa.Column("staff_user_id", sa.Uuid(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_upload")),
    )
    op.create_index(op.f("ix_roster_upload_staff_user_id"), "roster_upload", ["staff_user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_roster_upload_staff_user_id"), table_name="roster_upload")
    op.drop_table("roster_upload")
    with op.batch_alter_table("deletion_request") as batch:
        batch.drop_column("reference")
