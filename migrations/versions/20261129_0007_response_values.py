"""Responses carry their export numbers packed in one column, for extracts (issue: extract speed).

Responses stored before this revision keep ``export_values`` NULL; extracts read those from the
normalised ``answer`` rows.

Revision ID: 0007_response_values
Revises: 0006_research
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_response_values"
down_revision: str | Sequence[str] | None = "0006_research"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("response") as batch_op:
        batch_op.add_column(
            sa.Column(
                "export_values",
                sa.ARRAY(sa.Float()).with_variant(sa.JSON(), "sqlite"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("response") as batch_op:
        batch_op.drop_column("export_values")
