"""A console browser session: the hash of the cookie's secret, pointing at a staff session family.

The family (:class:`engagement.auth.models.SessionFamily`, client ``console``) carries what every
session has: revocation, the absolute lifetime, ``last_used_at`` for the idle timeout. This row only
lets the console find the family from the cookie; the secret itself is never stored.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement.db import Base, CreatedMixin


class ConsoleSession(CreatedMixin, Base):
    __tablename__ = "console_session"

    secret_hash: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    family_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("session_family.id", ondelete="CASCADE"), index=True
    )
