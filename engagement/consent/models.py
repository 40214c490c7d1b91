"""Consent: published document versions, the decision ledger, and the withdrawal ledger.

Decisions and withdrawals are ledgers: rows are added, never changed or deleted (checked on flush
here, and by triggers on PostgreSQL). The current state is derived from them in ``ledger``.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement.db import Base, IdMixin

CHANGE_CLASSES = ("major", "minor")
DECISIONS = ("yes", "no")
# Ordered from the mildest to the strongest; the strongest one in force wins.
WITHDRAWAL_SCOPES = ("no_contact", "no_new_data", "delete_data")
NO_CONTACT, NO_NEW_DATA, DELETE_DATA = WITHDRAWAL_SCOPES


PURPOSE_KINDS = ("use", "contact")
# A purpose governs use of the participant's data ("use"), or only whether they may be contacted
# ("contact": offered new questionnaires, asked about sub-studies). A document states each purpose's
# kind; the purposes of documents published before purposes had a kind take it from here (their
# texts already said so; stating it in the published file would change a version that never changes).
KINDS_NOT_STATED = {"questionnaires": "contact", "recontact_substudies": "contact"}


class ConsentDocument(IdMixin, Base):
    """One published, immutable version of a consent document (content as loaded from its file)."""

    __tablename__ = "consent_document"
    __table_args__ = (
        sa.UniqueConstraint("key", "version"),
        sa.CheckConstraint("change_class IN ('major', 'minor')", name="change_class"),
    )

    key: so.Mapped[str] = so.mapped_column(sa.String(64))
    version: so.Mapped[int]
    change_class: so.Mapped[str] = so.mapped_column(sa.String(8))
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    content: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    published_at: so.Mapped[datetime]

    @property
    def purposes(self) -> list[dict[str, Any]]:
        purposes: list[dict[str, Any]] = self.content["purposes"]
        return purposes

    @property
    def purpose_codes(self) -> list[str]:
        return [p["code"] for p in self.purposes]

    @functools.cached_property
    def purpose_kinds(self) -> dict[str, str]:
        """Each purpose's kind (:data:`PURPOSE_KINDS`): as the document states it, else as
        :data:`KINDS_NOT_STATED` says, else ``use``."""
        return {p["code"]: p.get("kind") or KINDS_NOT_STATED.get(p["code"], "use") for p in self.purposes}

    @functools.cached_property
    def required_codes(self) -> frozenset[str]:
        """Asked for every participant in bulk checks; a published document never changes."""
        return frozenset(p["code"] for p in self.purposes if p["required"])


class ConsentDecision(IdMixin, Base):
    """One decision on one purpose; all decisions of one submission share ``batch_id`` and time."""

    __tablename__ = "consent_decision"
    __table_args__ = (
        sa.CheckConstraint("decision IN ('yes', 'no')", name="decision"),
        # Everyone's latest decision in one ordered pass (an index-only scan on PostgreSQL), and any
        # one participant's ledger.
        sa.Index(
            "ix_consent_decision_participant_id_decided_at",
            "participant_id",
            "decided_at",
            "document_id",
            postgresql_include=["purpose", "decision"],
        ),
    )

    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"))
    document_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("consent_document.id"), index=True)
    batch_id: so.Mapped[uuid.UUID] = so.mapped_column(index=True)
    purpose: so.Mapped[str] = so.mapped_column(sa.String(64))
    decision: so.Mapped[str] = so.mapped_column(sa.String(3))
    decided_at: so.Mapped[datetime] = so.mapped_column(index=True)
    acr: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    auth_time: so.Mapped[datetime | None]
    session_id: so.Mapped[uuid.UUID | None]

    document: so.Mapped[ConsentDocument] = so.relationship(lazy="joined")


class ConsentWithdrawal(IdMixin, Base):
    """A withdrawal with its scope. It holds until the participant consents again (re-joins)."""

    __tablename__ = "consent_withdrawal"
    __table_args__ = (
        sa.CheckConstraint("scope IN ('no_contact', 'no_new_data', 'delete_data')", name="scope"),
    )

    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"), index=True)
    scope: so.Mapped[str] = so.mapped_column(sa.String(16))
    withdrawn_at: so.Mapped[datetime] = so.mapped_column(index=True)
    acr: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    auth_time: so.Mapped[datetime | None]
    session_id: so.Mapped[uuid.UUID | None]


class ConsentLatest(Base):
    """Each participant's latest submission, as the decision ledger says it, one row per participant.

    Derived, never decided on its own: :func:`engagement.consent.ledger.record_decisions` rewrites the
    participant's row from the ledger in the transaction of every append (migration 0020 filled it from
    the ledger as it stood). Counting the roster by standing then reads one row per participant instead
    of ranking every submission ever made; a count as of an earlier time still reads the ledger.
    """

    __tablename__ = "consent_latest"

    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"), primary_key=True)
    document_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("consent_document.id"))
    decided_at: so.Mapped[datetime]
    # "purpose=decision" pairs joined by "," in the order of the purpose codes: equal decisions are
    # equal strings, so that the roster groups by them
    decisions: so.Mapped[str] = so.mapped_column(sa.String(1000))


class ConsentLedgerViolation(RuntimeError):
    pass


_IMMUTABLE = (ConsentDocument, ConsentDecision, ConsentWithdrawal)


@sa.event.listens_for(so.Session, "before_flush")
def _consent_ledger_is_append_only(session: so.Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, _IMMUTABLE) and (obj in session.deleted or session.is_modified(obj)):
            raise ConsentLedgerViolation(f"{type(obj).__name__} rows are never changed or deleted")
