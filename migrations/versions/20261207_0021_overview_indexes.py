"""Indexes for the console overview's counts: a wave's submitted tasks, reminders sent and opened since
a time, and delivery attempts that did not go through, by time (each counted from its index alone).

Revision ID: 0021_overview_indexes
Revises: 0020_consent_latest
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_overview_indexes"
down_revision: str | Sequence[str] | None = "0020_consent_latest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _where(condition: str) -> dict[str, object]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    op.create_index("ix_task_wave_id_submitted", "task", ["wave_id"], **_where("submitted_at IS NOT NULL"))
    op.create_index("ix_reminder_sent_at", "reminder", ["sent_at"])
    op.create_index("ix_reminder_opened_at", "reminder", ["opened_at"], **_where("opened_at IS NOT NULL"))
    op.create_index(
        "ix_reminder_attempt_failed_attempted_at",
        "reminder_attempt",
        ["attempted_at", "reminder_id"],
        **_where("outcome <> 'sent'"),
    )


def downgrade() -> None:
    op.drop_index("ix_reminder_attempt_failed_attempted_at", table_name="reminder_attempt")
    op.drop_index("ix_reminder_opened_at", table_name="reminder")
    op.drop_index("ix_reminder_sent_at", table_name="reminder")
    op.drop_index("ix_task_wave_id_submitted", table_name="task")
