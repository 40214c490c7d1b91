"""Consent: documents, purposes, the decision ledger, withdrawals (issue: consent).

Revision ID: 0003_consent
Revises: 0002_identity
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0003_consent"
down_revision: str | Sequence[str] | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
