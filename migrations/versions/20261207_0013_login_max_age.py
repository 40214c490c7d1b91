"""A login remembers the app's ``max_age``, so that the callback can check ``auth_time`` against it
(re-authentication before a withdrawal with deletion).

Revision ID: 0013_login_max_age
Revises: 0011_packed_export_values
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_login_max_age"
down_revision: str | Sequence[str] | None = "0011_packed_export_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_transaction") as batch:
        batch.add_column(sa.Column("max_age", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_transaction") as batch:
        batch.drop_column("max_age")
