"""Waves (a questionnaire version sent to the people a rule picks), and the reminder outbox.

A wave's tasks are ``task`` rows with its ``wave_id`` (one per participant, unique). The outbox has one
``reminder`` row per (task, sequence), unique, so planning twice never duplicates; the worker claims
rows and records every delivery attempt in ``reminder_attempt``, a ledger (rows are only added), and
what it did in its ``reminder_worker`` row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement import clock
from engagement.db import Base, CreatedMixin, IdMixin, partial_index
from engagement.questionnaires.models import QuestionnaireVersion

WAVE_STATUSES = ("draft", "launched", "closed")
REMINDER_STATUSES = ("pending", "sending", "sent", "skipped", "cancelled", "failed")


class Wave(IdMixin, CreatedMixin, Base):
    """A questionnaire version, the rule that picks who gets it, when it is open, and how it reminds."""

    __tablename__ = "wave"
    __table_args__ = (
        sa.CheckConstraint("status IN ('draft', 'launched', 'closed')", name="status"),
        sa.CheckConstraint("closes_at > opens_at", name="dates"),
    )

    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    questionnaire_version_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("questionnaire_version.id"), index=True
    )
    # {"kind": "age", "min_age", "max_age", "on"} or {"kind": "turns_18_between", "from", "to"}
    eligibility: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    required_purposes: so.Mapped[list[str]] = so.mapped_column(sa.JSON)
    opens_at: so.Mapped[datetime]
    closes_at: so.Mapped[datetime]
    is_rolling: so.Mapped[bool] = so.mapped_column(default=False)
    reminder_policy: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="draft")
    created_by: so.Mapped[uuid.UUID | None]
    launched_at: so.Mapped[datetime | None]
    launched_count: so.Mapped[int | None]
    closed_at: so.Mapped[datetime | None]

    questionnaire_version: so.Mapped[QuestionnaireVersion] = so.relationship(lazy="joined", innerjoin=True)


class Reminder(IdMixin, CreatedMixin, Base):
    """One reminder of one task (the outbox row): pending -> sending (leased) -> sent | skipped |
    cancelled | failed. ``due_at`` is when to try next; ``planned_at`` when the planner meant it."""

    __tablename__ = "reminder"
    __table_args__ = (
        sa.UniqueConstraint("task_id", "sequence"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'skipped', 'cancelled', 'failed')", name="status"
        ),
        # What the workers claim, each kind in its own small index that a claim reads in order:
        # pending rows by due time, leased rows by lease end (a worker died mid-batch).
        partial_index("ix_reminder_pending_due_at", "due_at", "id", where="status = 'pending'"),
        partial_index("ix_reminder_sending_locked_until", "locked_until", where="status = 'sending'"),
        sa.Index("ix_reminder_participant_id_sent_at", "participant_id", "sent_at"),
        # reminders sent and opened since a time, counted without reading the table (the overview)
        sa.Index("ix_reminder_sent_at", "sent_at"),
        partial_index("ix_reminder_opened_at", "opened_at", where="opened_at IS NOT NULL"),
    )

    task_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("task.id"))
    sequence: so.Mapped[int]
    wave_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("wave.id"), index=True)
    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="pending")
    planned_at: so.Mapped[datetime]
    due_at: so.Mapped[datetime]
    deadline_at: so.Mapped[datetime]
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    locked_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    locked_until: so.Mapped[datetime | None]
    # set when a worker decided to send (counts towards the caps while the send is in flight)
    sending_at: so.Mapped[datetime | None]
    sent_at: so.Mapped[datetime | None]
    opened_at: so.Mapped[datetime | None]
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    template: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    template_version: so.Mapped[int | None]


class ReminderAttempt(IdMixin, Base):
    """One delivery attempt of a reminder to one device, with FCM's answer. Never changed."""

    __tablename__ = "reminder_attempt"
    __table_args__ = (
        # attempts that did not go through, by time: failures per class and day, reminders failed since
        partial_index(
            "ix_reminder_attempt_failed_attempted_at",
            "attempted_at",
            "reminder_id",
            where="outcome <> 'sent'",
        ),
    )

    reminder_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("reminder.id"), index=True)
    device_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("device.id", ondelete="SET NULL"))
    device_fingerprint: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    attempt: so.Mapped[int]
    worker: so.Mapped[str] = so.mapped_column(sa.String(64))
    attempted_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(24))
    detail: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    message_id: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    retry_seconds: so.Mapped[float | None]


class ReminderWorker(Base):
    """One reminder worker process: when it started and was last seen, and what it sent, for
    ``/metrics`` (the worker serves no HTTP) and the console. Counts only grow."""

    __tablename__ = "reminder_worker"

    name: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    started_at: so.Mapped[datetime]
    last_seen_at: so.Mapped[datetime]
    sent: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    retried: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    failed: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    skipped: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)


class ReminderLedgerViolation(RuntimeError):
    pass


@sa.event.listens_for(so.Session, "before_flush")
def _attempts_are_append_only(session: so.Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, ReminderAttempt) and (obj in session.deleted or session.is_modified(obj)):
            raise ReminderLedgerViolation("reminder attempts are never changed or deleted")
