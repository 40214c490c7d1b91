"""Two indexes fewer to fill for every delivered participant and response, neither read by any query.

The delivered-response ledger is read by extract (its primary key) and by pseudonym; its index on
``response_id`` alone served nothing. The pseudonym table's uniqueness per (project, participant) is
now declared participant first, so that one index serves it, the lookups by participant and the
participant foreign key, and the separate index on ``participant_id`` goes; a project's pseudonyms are
read through the (project, pseudonym) unique index.

Revision ID: 0010_research_ledger_indexes
Revises: 0009_reminder_claim_indexes
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_research_ledger_indexes"
down_revision: str | Sequence[str] | None = "0009_reminder_claim_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("research_extract_response", schema=None) as batch_op:
        batch_op.drop_index("ix_research_extract_response_response_id")
    with op.batch_alter_table("research_pseudonym", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_research_pseudonym_participant_id_project_id", ["participant_id", "project_id"]
        )
        batch_op.drop_constraint("uq_research_pseudonym_project_id_participant_id", type_="unique")
        batch_op.drop_index("ix_research_pseudonym_participant_id")


def downgrade() -> None:
    with op.batch_alter_table("research_pseudonym", schema=None) as batch_op:
        batch_op.create_index("ix_research_pseudonym_participant_id", ["participant_id"], unique=False)
        batch_op.create_unique_constraint(
            "uq_research_pseudonym_project_id_participant_id", ["project_id", "participant_id"]
        )
        batch_op.drop_constraint("uq_research_pseudonym_participant_id_project_id", type_="unique")
    with op.batch_alter_table("research_extract_response", schema=None) as batch_op:
        batch_op.create_index("ix_research_extract_response_response_id", ["response_id"], unique=False)
