"""A childhood-data deletion marked done carries the reference of the case in the cohort's own system.

Revision ID: 0019_deletion_reference
Revises: 0011_packed_export_values
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_deletion_reference"
down_revision: str | Sequence[str] | None = "0011_packed_export_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deletion_request") as batch:
        batch.add_column(sa.Column("reference", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deletion_request") as batch:
        batch.drop_column("reference")
