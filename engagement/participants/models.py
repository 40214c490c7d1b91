"""Participants. The fødselsnummer never reaches this table: only its keyed hash (see ``services``).

This is the identity side of the cohort (roster link, hash, profile); what a participant answers lives
in other tables that point here by ``id`` only.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement.clock import DEFAULT_TIME_ZONE
from engagement.db import Base, CreatedMixin, IdMixin

LANGUAGES = ("nb", "nn", "en")


class Participant(IdMixin, CreatedMixin, Base):
    """A young adult of the cohort. ``id`` is the internal id used everywhere else (tokens, tasks, answers)."""

    __tablename__ = "participant"

    cohort_person_id: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    pid_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    birth_date: so.Mapped[date]
    language: so.Mapped[str] = so.mapped_column(sa.String(2), default="nb")
    time_zone: so.Mapped[str] = so.mapped_column(sa.String(64), default=DEFAULT_TIME_ZONE)
    # hours of the day (0-23, in ``time_zone``) at which the participant welcomes reminders; None: any
    preferred_reminder_hours: so.Mapped[list[int] | None] = so.mapped_column(sa.JSON)
    # once the participant picks a language themselves, a roster re-import no longer changes it
    is_language_chosen: so.Mapped[bool] = so.mapped_column(default=False)
    updated_at: so.Mapped[datetime | None]

    def __repr__(self) -> str:  # never show the hash
        return f"<Participant {self.id}>"


class RosterUpload(IdMixin, CreatedMixin, Base):
    """A roster checked in a dry run and waiting to be applied by the staff user who uploaded it.

    It holds the checked rows as they are stored (cohort id, keyed hash, birth date, language), never a
    fødselsnummer; applying it runs the checks against the database again and removes it."""

    __tablename__ = "roster_upload"

    staff_user_id: so.Mapped[uuid.UUID] = so.mapped_column(index=True)
    # [[line, cohort_person_id, pid_hash, birth_date (ISO), language], ...]
    rows: so.Mapped[list[list[object]]] = so.mapped_column(sa.JSON)


__all__ = ["Participant", "RosterUpload", "uuid"]
