"""Questionnaires: published versions, tasks, drafts, submissions (issue: questionnaires).

Revision ID: 0004_questionnaires
Revises: 0003_consent
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0004_questionnaires"
down_revision: str | Sequence[str] | None = "0003_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
