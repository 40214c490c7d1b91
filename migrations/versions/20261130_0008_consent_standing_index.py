"""An index that holds each participant's decisions in time order with their purposes, so that the
bulk consent rule (wave launches, extracts) reads everyone's latest decision from the index alone.

Revision ID: 0008_consent_standing_index
Revises: 0007_response_values
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_consent_standing_index"
down_revision: str | Sequence[str] | None = "0007_response_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_consent_decision_participant_id_decided_at",
        "consent_decision",
        ["participant_id", "decided_at", "document_id"],
        postgresql_include=["purpose", "decision"],
    )


def downgrade() -> None:
    op.drop_index("ix_consent_decision_participant_id_decided_at", table_name="consent_decision")
