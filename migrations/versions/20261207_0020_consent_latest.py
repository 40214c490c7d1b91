"""Each participant's latest consent submission, one row per participant (``consent_latest``), filled
here from the ledger as it stands; from now on every append writes it in the same transaction.

Revision ID: 0020_consent_latest
Revises: 0019_console_pages
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engagement.db

revision: str = "0020_consent_latest"
down_revision: str | Sequence[str] | None = "0019_console_pages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    latest = op.create_table(
        "consent_latest",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("decided_at", engagement.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decisions", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["consent_document.id"], name=op.f("fk_consent_latest_document_id_consent_document")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participant.id"], name=op.f("fk_consent_latest_participant_id_participant")
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_consent_latest")),
    )
    _fill(latest)


def _fill(latest: sa.Table) -> None:
    """Each participant's rows at their newest decision time, read in the order of the ledger's
    (participant, time, document) index; a "no" in two submissions of one instant holds, and of two
    documents decided at one instant the greater id is kept (as ``ledger.rebuild_latest`` does)."""
    decision = sa.table(
        "consent_decision",
        sa.column("participant_id", sa.Uuid()),
        sa.column("document_id", sa.Uuid()),
        sa.column("decided_at", engagement.db.UTCDateTime(timezone=True)),
        sa.column("purpose", sa.String()),
        sa.column("decision", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            decision.c.participant_id,
            decision.c.decided_at,
            decision.c.document_id,
            decision.c.purpose,
            decision.c.decision,
        )
        .order_by(decision.c.participant_id, decision.c.decided_at.desc(), decision.c.document_id.desc())
        .execution_options(stream_results=True, yield_per=10_000)  # a server-side cursor on PostgreSQL
    )
    batch: list[dict[str, object]] = []
    current: dict[str, object] | None = None
    by_purpose: dict[str, str] = {}

    def close() -> None:
        if current is not None:
            current["decisions"] = ",".join(f"{code}={by_purpose[code]}" for code in sorted(by_purpose))
            batch.append(current)
        if len(batch) >= BATCH:
            connection.execute(sa.insert(latest), batch)
            batch.clear()

    for participant_id, decided_at, document_id, purpose, answer in rows:
        if current is None or current["participant_id"] != participant_id:
            close()
            current = {"participant_id": participant_id, "document_id": document_id, "decided_at": decided_at}
            by_purpose = {}
        elif current["decided_at"] != decided_at:
            continue  # an older submission
        by_purpose[purpose] = min(answer, by_purpose.get(purpose, answer))
    close()
    if batch:
        connection.execute(sa.insert(latest), batch)


def downgrade() -> None:
    op.drop_table("consent_latest")
