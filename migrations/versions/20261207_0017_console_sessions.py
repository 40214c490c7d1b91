"""Console browser sessions: the hash of a console cookie's secret, pointing at its session family.

Revision ID: 0017_console_sessions
Revises: 0015_extract_jobs
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engagement.db

revision: str = "0017_console_sessions"
down_revision: str | Sequence[str] | None = "0015_extract_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", engagement.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["session_family.id"],
            name=op.f("fk_console_session_family_id_session_family"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("secret_hash", name=op.f("pk_console_session")),
    )
    op.create_index(op.f("ix_console_session_family_id"), "console_session", ["family_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_console_session_family_id"), table_name="console_session")
    op.drop_table("console_session")
