"""Identity tables: staff users, login transactions, one-time app codes, sessions and refresh tokens.

Secrets are stored only as SHA-256 hashes (state, codes, refresh tokens, the browser binding); no
ID-porten token and no fødselsnummer is ever kept. These tables hold nothing a participant answers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement.db import Base, CreatedMixin, IdMixin


class StaffUser(IdMixin, CreatedMixin, Base):
    """A coordinator, researcher or admin known from the organisation's OpenID provider."""

    __tablename__ = "staff_user"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)

    issuer: so.Mapped[str] = so.mapped_column(sa.String(255))
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    name: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    roles: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    last_login_at: so.Mapped[datetime | None]


class LoginTransaction(IdMixin, CreatedMixin, Base):
    """A login in progress: the app's request, and what the upstream provider must send back."""

    __tablename__ = "login_transaction"

    state_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    browser_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))  # participant | staff
    client_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    redirect_uri: so.Mapped[str] = so.mapped_column(sa.String(512))
    client_state: so.Mapped[str] = so.mapped_column(sa.String(512))
    code_challenge: so.Mapped[str] = so.mapped_column(sa.String(64))
    max_age: so.Mapped[int | None]  # seconds the app allows since the person last authenticated
    # the upstream provider's nonce and PKCE verifier live only until the callback (10 minutes)
    nonce: so.Mapped[str] = so.mapped_column(sa.String(64))
    code_verifier: so.Mapped[str] = so.mapped_column(sa.String(128))
    expires_at: so.Mapped[datetime]
    consumed_at: so.Mapped[datetime | None]


class SessionFamily(IdMixin, CreatedMixin, Base):
    """One login on one device: the ``sid`` of access tokens, the family of its refresh tokens."""

    __tablename__ = "session_family"
    __table_args__ = (
        sa.CheckConstraint("(participant_id IS NULL) <> (staff_user_id IS NULL)", name="one_subject"),
        sa.Index(None, "upstream_sid"),
    )

    kind: so.Mapped[str] = so.mapped_column(sa.String(16))  # participant | staff
    participant_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    staff_user_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    client_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    upstream_issuer: so.Mapped[str] = so.mapped_column(sa.String(255))
    upstream_sid: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    acr: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    auth_time: so.Mapped[datetime | None]
    roles: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    absolute_expires_at: so.Mapped[datetime]
    last_used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]
    revoked_reason: so.Mapped[str | None] = so.mapped_column(sa.String(64))

    @property
    def subject_id(self) -> uuid.UUID:
        subject = self.participant_id or self.staff_user_id
        assert subject is not None
        return subject


class AppAuthorizationCode(CreatedMixin, Base):
    """The one-time code (60 s) the app trades for tokens; the code itself is only kept as its hash."""

    __tablename__ = "app_authorization_code"

    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    family_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("session_family.id", ondelete="CASCADE"), index=True
    )
    client_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    redirect_uri: so.Mapped[str] = so.mapped_column(sa.String(512))
    code_challenge: so.Mapped[str] = so.mapped_column(sa.String(64))
    expires_at: so.Mapped[datetime]
    consumed_at: so.Mapped[datetime | None]


class RefreshToken(IdMixin, CreatedMixin, Base):
    """One refresh token of a family, stored as its SHA-256; rotated on every use."""

    __tablename__ = "refresh_token"

    family_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("session_family.id", ondelete="CASCADE"), index=True
    )
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    parent_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("refresh_token.id", ondelete="SET NULL")
    )
    idle_expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]
