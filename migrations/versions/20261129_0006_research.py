"""Research projects, pseudonyms and extract deliveries (issue: research extracts).

Revision ID: 0006_research
Revises: 0005_waves
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0006_research"
down_revision: str | Sequence[str] | None = "0005_waves"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
