"""The reminder outbox is claimed from two partial indexes, one per kind of claimable row: pending rows
by due time, leased rows by lease end. They replace the (status, due_at) index, which a claim asking for
either kind could not use, so it read and sorted every pending row for each batch.

Revision ID: 0009_reminder_claim_indexes
Revises: 0008_consent_latest_index
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_reminder_claim_indexes"
down_revision: str | Sequence[str] | None = "0008_consent_latest_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pending, sending = sa.text("status = 'pending'"), sa.text("status = 'sending'")
    op.create_index(
        "ix_reminder_pending_due_at",
        "reminder",
        ["due_at", "id"],
        postgresql_where=pending,
        sqlite_where=pending,
    )
    op.create_index(
        "ix_reminder_sending_locked_until",
        "reminder",
        ["locked_until"],
        postgresql_where=sending,
        sqlite_where=sending,
    )
    op.drop_index("ix_reminder_status_due_at", table_name="reminder")


def downgrade() -> None:
    op.create_index("ix_reminder_status_due_at", "reminder", ["status", "due_at"])
    op.drop_index("ix_reminder_sending_locked_until", table_name="reminder")
    op.drop_index("ix_reminder_pending_due_at", table_name="reminder")
