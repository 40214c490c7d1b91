"""Extract jobs: a requested delivery, queued until a worker runs it; one active job per project.

Revision ID: 0015_extract_jobs
Revises: 0011_packed_export_values
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engagement.db import UTCDateTime

revision: str = "0015_extract_jobs"
down_revision: str | Sequence[str] | None = "0011_packed_export_values"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "research_extract_job",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("requested_by_kind", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("extract_id", sa.Uuid(), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("kind IN ('full', 'since-last')", name=op.f("ck_research_extract_job_kind")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_research_extract_job_status")
        ),
        sa.ForeignKeyConstraint(
            ["extract_id"],
            ["research_extract.id"],
            name=op.f("fk_research_extract_job_extract_id_research_extract"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["research_project.id"],
            name=op.f("fk_research_extract_job_project_id_research_project"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_extract_job")),
    )
    op.create_index(
        "ix_research_extract_job_active_project",
        "research_extract_job",
        ["project_id"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_research_extract_job_active_project", table_name="research_extract_job")
    op.drop_table("research_extract_job")
