"""Waves, devices and the reminder outbox (issue: waves and reminders).

Revision ID: 0005_waves
Revises: 0004_questionnaires
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0005_waves"
down_revision: str | Sequence[str] | None = "0004_questionnaires"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
