"""Reminder workers: one row per worker process, last seen and counts of what it sent.

The worker serves no HTTP; the API's ``/metrics`` and the console read these rows.

Revision ID: 0014_reminder_worker
Revises: 0013_login_max_age
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engagement.db

revision: str = "0014_reminder_worker"
down_revision: str | Sequence[str] | None = "0013_login_max_age"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_worker",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", engagement.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", engagement.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("retried", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reminder_worker")),
    )


def downgrade() -> None:
    op.drop_table("reminder_worker")
