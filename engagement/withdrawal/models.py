"""What a withdrawal did (its receipt), and requests to delete childhood data from the cohort's files."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement.db import Base, IdMixin


class WithdrawalReceipt(IdMixin, Base):
    """The effects applied for one withdrawal, in the order they ran (shown to the participant)."""

    __tablename__ = "withdrawal_receipt"

    withdrawal_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("consent_withdrawal.id"), unique=True
    )
    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"), index=True)
    effects: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON)
    created_at: so.Mapped[datetime]


class DeletionRequest(IdMixin, Base):
    """A request to delete what MoBa collected in childhood (on the parents' consent) from the cohort's
    own files. The service cannot do it; coordinators do, and mark it done with the time."""

    __tablename__ = "deletion_request"

    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"), index=True)
    withdrawal_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("consent_withdrawal.id"))
    requested_at: so.Mapped[datetime] = so.mapped_column(index=True)
    done_at: so.Mapped[datetime | None]
    done_by: so.Mapped[uuid.UUID | None]
    note: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    # the case or ticket in the cohort's own system where the deletion was carried out
    reference: so.Mapped[str | None] = so.mapped_column(sa.String(100))

    @property
    def status(self) -> str:
        return "done" if self.done_at is not None else "open"
