"""Push registrations: one row per FCM registration token or Firebase installation id.

The registration itself is needed to send, so it is stored; it is looked up by its SHA-256
(``registration_hash``, unique), and shown to people only as a fingerprint or its last characters.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement import clock
from engagement.db import Base, CreatedMixin, IdMixin

KINDS = ("fcm_token", "fid")
PLATFORMS = ("android", "ios", "web")


class Device(IdMixin, CreatedMixin, Base):
    """A participant's app installation that can receive push reminders."""

    __tablename__ = "device"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('fcm_token', 'fid')", name="kind"),
        sa.CheckConstraint("platform IN ('android', 'ios', 'web')", name="platform"),
    )

    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    registration: so.Mapped[str] = so.mapped_column(sa.String(4096))
    registration_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    platform: so.Mapped[str] = so.mapped_column(sa.String(16))
    app_version: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    language: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    is_active: so.Mapped[bool] = so.mapped_column(default=True)
    deactivated_at: so.Mapped[datetime | None]
    deactivated_reason: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    last_seen_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    updated_at: so.Mapped[datetime | None]

    @property
    def registration_end(self) -> str:
        """The last six characters, enough for a person to recognise their own device."""
        return "…" + self.registration[-6:]

    def __repr__(self) -> str:  # never show the registration
        return f"<Device {self.id}>"
