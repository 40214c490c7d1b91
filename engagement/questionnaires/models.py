"""Published questionnaire versions, tasks (assignments), drafts, submitted responses and their answers.

A published version and a stored response never change (enforced on flush); a response may only be
deleted, with its answers, when a participant withdraws with deletion.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement import clock
from engagement.db import Base, CreatedMixin, IdMixin, partial_index


class PackedNumbers(sa.TypeDecorator[list[float]]):
    """A list of numbers stored as big-endian IEEE doubles, eight bytes each (the order of PostgreSQL's
    ``float8send``), NaN for a missing number. Extracts read the bytes in bulk straight into numpy;
    a PostgreSQL ``float8[]`` cost the server about four times as much to send, element by element."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Sequence[float | None] | None, dialect: sa.Dialect) -> bytes | None:
        if value is None:
            return None
        return struct.pack(f">{len(value)}d", *(math.nan if v is None else v for v in value))

    def process_result_value(self, value: bytes | None, dialect: sa.Dialect) -> list[float] | None:
        if value is None:
            return None
        return list(struct.unpack(f">{len(value) // 8}d", value))


TASK_STATUSES = ("open", "in_progress", "submitted", "expired", "cancelled")
ACTIVE_STATUSES = ("open", "in_progress")


class QuestionnaireVersion(IdMixin, Base):
    """One published, immutable version of a questionnaire definition file."""

    __tablename__ = "questionnaire_version"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)

    key: so.Mapped[str] = so.mapped_column(sa.String(32))
    version: so.Mapped[int]
    version_label: so.Mapped[str] = so.mapped_column(sa.String(32))
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    # Deferred: large, and immutable, so services keep parsed copies (``services.definition_of``).
    definition: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, deferred=True)
    consent_purpose: so.Mapped[str] = so.mapped_column(sa.String(64), default="questionnaires")
    published_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)

    def __repr__(self) -> str:
        return f"<QuestionnaireVersion {self.key} v{self.version}>"


class Task(IdMixin, CreatedMixin, Base):
    """A participant's assignment to answer one questionnaire version, with its status history."""

    __tablename__ = "task"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'submitted', 'expired', 'cancelled')", name="status"
        ),
        sa.Index("ix_task_participant_id_status", "participant_id", "status"),
        sa.Index("ix_task_wave_id_participant_id", "wave_id", "participant_id", unique=True),  # one per wave
        # the submitted tasks of a wave, counted without reading the table (the console's running waves)
        partial_index("ix_task_wave_id_submitted", "wave_id", where="submitted_at IS NOT NULL"),
    )

    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"))
    questionnaire_version_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("questionnaire_version.id"), index=True
    )
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="open")
    opens_at: so.Mapped[datetime]
    due_at: so.Mapped[datetime | None]
    started_at: so.Mapped[datetime | None]
    submitted_at: so.Mapped[datetime | None]
    closed_at: so.Mapped[datetime | None]
    closed_reason: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # the wave that assigned this task (engagement.waves), None for a direct assignment
    wave_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("wave.id"))

    questionnaire_version: so.Mapped[QuestionnaireVersion] = so.relationship(lazy="joined", innerjoin=True)

    def status_at(self, at: datetime) -> str:
        """The status as the participant sees it at ``at``: an active task past its due time is expired."""
        if self.status in ACTIVE_STATUSES and self.due_at is not None and at >= self.due_at:
            return "expired"
        return self.status


class Draft(Base):
    """Partial answers to a task, saved from any device; ``etag`` changes on every save."""

    __tablename__ = "draft"

    task_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("task.id", ondelete="CASCADE"), primary_key=True
    )
    answers: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    etag: so.Mapped[str] = so.mapped_column(sa.String(32))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)


class Response(IdMixin, Base):
    """A submission: immutable, bound to the exact version answered, identified by the client's UUID."""

    __tablename__ = "response"

    submission_id: so.Mapped[uuid.UUID] = so.mapped_column(unique=True)
    task_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("task.id"), unique=True)
    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"), index=True)
    questionnaire_version_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("questionnaire_version.id"), index=True
    )
    answers: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    body_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    submitted_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    # The numbers of the normalised answers, packed in the version's export-variable order
    # (``services.export_layout``), NaN where a variable has no number; extracts read this one column
    # instead of the answer rows. NULL for responses stored before it existed.
    export_values: so.Mapped[list[float] | None] = so.mapped_column(PackedNumbers(), deferred=True)

    questionnaire_version: so.Mapped[QuestionnaireVersion] = so.relationship()


class Answer(Base):
    """One export variable of one response (multiple choice: one 0/1 row per option)."""

    __tablename__ = "answer"

    response_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    variable: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    item: so.Mapped[str] = so.mapped_column(sa.String(64))
    value_number: so.Mapped[float | None] = so.mapped_column(sa.Float)
    value_text: so.Mapped[str | None] = so.mapped_column(sa.Text)


class ImmutableRecordChanged(RuntimeError):
    pass


@sa.event.listens_for(so.Session, "before_flush")
def _published_things_do_not_change(session: so.Session, _ctx: Any, _instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, QuestionnaireVersion | Response | Answer) and session.is_modified(obj):
            raise ImmutableRecordChanged(f"{type(obj).__name__} rows are never changed")
    for obj in session.deleted:
        if isinstance(obj, QuestionnaireVersion):
            raise ImmutableRecordChanged("published questionnaire versions are never deleted")
