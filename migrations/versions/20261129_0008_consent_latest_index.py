"""Everyone's latest consent decision in one ordered pass: the participant index also holds the time,
the document and (on PostgreSQL, as included columns) the purpose and the decision.

Revision ID: 0008_consent_latest_index
Revises: 0007_response_values
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_consent_latest_index"
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
    op.drop_index("ix_consent_decision_participant_id", table_name="consent_decision")


def downgrade() -> None:
    op.create_index("ix_consent_decision_participant_id", "consent_decision", ["participant_id"])
    op.drop_index("ix_consent_decision_participant_id_decided_at", table_name="consent_decision")
