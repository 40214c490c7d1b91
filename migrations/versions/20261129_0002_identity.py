"""Identity: staff users, login transactions, sessions and refresh tokens (issue: login).

Revision ID: 0002_identity
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0002_identity"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
