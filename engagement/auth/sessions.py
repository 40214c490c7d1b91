"""Staying logged in: session families (one per login, with an idle timeout and an absolute lifetime),
the rotating refresh tokens and one-time codes bound to them, revoking them, the staff roles read again
at every refresh, and the hashes and random secrets they are kept by. Services flush; the route commits.
Logging in, which opens a session, is :mod:`engagement.auth.services`."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from flask import current_app

from engagement import audit, clock
from engagement.auth.errors import InvalidGrant, NoRoleLeft, RefreshTokenReuse
from engagement.auth.models import (
    AppAuthorizationCode,
    RefreshToken,
    SessionFamily,
    StaffUser,
)
from engagement.extensions import db
from engagement.problems import Unauthorized
from engagement.security import (
    ACCESS_TOKEN_LIFETIME,
    ROLES,
    Principal,
    issue_access_token,
    verify_access_token,
)

log = logging.getLogger("engagement.security")

ClientKind = Literal["participant", "staff"]

# --- hashing and randomness -------------------------------------------------------------------------


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def staff_roles(staff_user_id: uuid.UUID) -> frozenset[str]:
    """The roles a staff user holds now, as their record says (empty: none, or no such user)."""
    roles = db.session.scalar(sa.select(StaffUser.roles).where(StaffUser.id == staff_user_id))
    return frozenset(r for r in roles or [] if r in ROLES)


# --- sessions ---------------------------------------------------------------------------------------


def session_lifetimes() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    return timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]), timedelta(hours=cfg["SESSION_MAX_HOURS"])


def open_session(
    *,
    kind: ClientKind,
    client_id: str,
    participant_id: uuid.UUID | None = None,
    staff_user_id: uuid.UUID | None = None,
    upstream_issuer: str,
    upstream_sid: str | None = None,
    acr: str | None = None,
    auth_time: datetime | None = None,
    roles: list[str] | None = None,
) -> SessionFamily:
    """A new session family (each login opens its own)."""
    _idle, absolute = session_lifetimes()
    now = clock.now()
    family = SessionFamily(
        kind=kind,
        client_id=client_id,
        participant_id=participant_id,
        staff_user_id=staff_user_id,
        upstream_issuer=upstream_issuer,
        upstream_sid=upstream_sid,
        acr=acr,
        auth_time=auth_time,
        roles=list(roles or []),
        created_at=now,
        absolute_expires_at=now + absolute,
    )
    db.session.add(family)
    db.session.flush()
    return family


def principal_for(family: SessionFamily) -> Principal:
    return Principal(
        kind=family.kind,  # type: ignore[arg-type]
        subject=family.subject_id,
        session_id=family.id,
        client_id=family.client_id,
        roles=frozenset(family.roles or []),
        acr=family.acr,
        auth_time=family.auth_time,
    )


def session_is_active(principal: Principal) -> bool:
    """The cheap per-request check: the token's session exists, is not revoked, and has not expired."""
    row = db.session.execute(
        sa.select(
            SessionFamily.revoked_at,
            SessionFamily.absolute_expires_at,
            SessionFamily.participant_id,
            SessionFamily.staff_user_id,
        ).where(SessionFamily.id == principal.session_id)
    ).first()
    if row is None:
        return False
    revoked_at, absolute_expires_at, participant_id, staff_user_id = row
    subject = participant_id if principal.kind == "participant" else staff_user_id
    return revoked_at is None and absolute_expires_at > clock.now() and subject == principal.subject


def revoke_sessions(where: Any, reason: str) -> int:
    """Revoke every live family matching ``where`` and all their refresh tokens; returns how many."""
    now = clock.now()
    ids = list(
        db.session.scalars(sa.select(SessionFamily.id).where(where, SessionFamily.revoked_at.is_(None)))
    )
    if not ids:
        return 0
    db.session.execute(
        sa.update(SessionFamily)
        .where(SessionFamily.id.in_(ids))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id.in_(ids), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    for family_id in ids:
        audit.record(
            "session.revoked", object_type="session", object_id=family_id, details={"reason": reason}
        )
    log.info("sessions revoked", extra={"event": "session.revoked", "detail": f"{reason} n={len(ids)}"})
    return len(ids)


def revoke_family(family_id: uuid.UUID, reason: str) -> int:
    return revoke_sessions(SessionFamily.id == family_id, reason)


def revoke_participant_sessions(
    participant_id: uuid.UUID, reason: str, *, keep: uuid.UUID | None = None
) -> int:
    """Log a participant out everywhere, but in session ``keep`` if given (withdrawal: the session
    that asked stays, to read the receipt and the data copy)."""
    where = SessionFamily.participant_id == participant_id
    if keep is not None:
        where = sa.and_(where, SessionFamily.id != keep)
    return revoke_sessions(where, reason)


def revoke_staff_sessions(staff_user_id: uuid.UUID, reason: str) -> int:
    """Log a staff user out everywhere."""
    return revoke_sessions(SessionFamily.staff_user_id == staff_user_id, reason)


def revoke_upstream_session(issuer: str, sid: str) -> int:
    """Front-channel logout: every family opened under that ID-porten session."""
    return revoke_sessions(
        sa.and_(SessionFamily.upstream_issuer == issuer, SessionFamily.upstream_sid == sid),
        "frontchannel_logout",
    )


def list_sessions(participant_id: uuid.UUID) -> list[SessionFamily]:
    now = clock.now()
    return list(
        db.session.scalars(
            sa.select(SessionFamily)
            .where(
                SessionFamily.participant_id == participant_id,
                SessionFamily.revoked_at.is_(None),
                SessionFamily.absolute_expires_at > now,
            )
            .order_by(SessionFamily.created_at.desc())
        )
    )


# --- step 3: tokens (the rules; engagement/auth/server.py runs the grants on authlib) ----------------


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int


def access_token_for(family: SessionFamily) -> str:
    return issue_access_token(principal_for(family))


def store_refresh_token(family: SessionFamily, refresh_token: str, parent_id: uuid.UUID | None) -> None:
    """Keep a new refresh token of ``family`` (as its hash), idle-limited within the session's limit."""
    idle, _absolute = session_lifetimes()
    now = clock.now()
    db.session.add(
        RefreshToken(
            family_id=family.id,
            token_hash=sha256(refresh_token),
            parent_id=parent_id,
            created_at=now,
            idle_expires_at=min(now + idle, family.absolute_expires_at),
        )
    )
    family.last_used_at = now
    db.session.flush()


def _mint(family: SessionFamily, parent_id: uuid.UUID | None) -> TokenSet:
    """An access token and a new refresh token for ``family`` (what a token response carries)."""
    refresh_token = new_secret()
    store_refresh_token(family, refresh_token, parent_id)
    return TokenSet(access_token_for(family), refresh_token, int(ACCESS_TOKEN_LIFETIME.total_seconds()))


def take_code(code: str, client_id: str) -> AppAuthorizationCode:
    """The one-time code, used up at once: single use (a replay revokes its session and raises
    :class:`RefreshTokenReuse`), 60 s, issued to this client. PKCE and the redirect URI are checked
    by the grant after this."""
    now = clock.now()
    code_hash = sha256(code)
    row = db.session.execute(
        sa.update(AppAuthorizationCode)
        .where(AppAuthorizationCode.code_hash == code_hash, AppAuthorizationCode.consumed_at.is_(None))
        .values(consumed_at=now)
        .returning(AppAuthorizationCode.family_id)
    ).first()
    if row is None:
        replayed = db.session.get(AppAuthorizationCode, code_hash)
        if replayed is not None:
            revoke_family(replayed.family_id, "code_reuse")
            raise RefreshTokenReuse("This code was already used; its session has been ended.")
        raise InvalidGrant("Unknown code.")
    grant = db.session.get(AppAuthorizationCode, code_hash)
    assert grant is not None
    db.session.refresh(grant)
    if grant.expires_at <= now:
        raise InvalidGrant("The code has expired.")
    if grant.client_id != client_id:
        raise InvalidGrant("The code was issued to another client or redirect_uri.")
    return grant


def live_family(family_id: uuid.UUID) -> SessionFamily:
    """The session, if it has neither been revoked nor reached its absolute limit."""
    family = db.session.get(SessionFamily, family_id)
    if family is None:
        raise InvalidGrant("The session has ended; log in again.")
    db.session.refresh(family)
    if family.revoked_at is not None or family.absolute_expires_at <= clock.now():
        raise InvalidGrant("The session has ended; log in again.")
    return family


@dataclass(frozen=True)
class StoredRefreshToken:
    id: uuid.UUID
    family_id: uuid.UUID
    client_id: str


def find_refresh_token(refresh_token: str) -> StoredRefreshToken:
    """The refresh token and the client its session belongs to (not yet used up)."""
    row = db.session.execute(
        sa.select(RefreshToken.id, RefreshToken.family_id, SessionFamily.client_id)
        .join(SessionFamily, RefreshToken.family_id == SessionFamily.id)
        .where(RefreshToken.token_hash == sha256(refresh_token))
    ).first()
    if row is None:
        raise InvalidGrant("Unknown refresh token.")
    return StoredRefreshToken(*row)


def use_refresh_token(token: StoredRefreshToken) -> None:
    """Rotate: mark the token used, atomically, so that of two concurrent uses exactly one wins. A
    token that was already used revokes its family and raises :class:`RefreshTokenReuse`."""
    now = clock.now()
    row = db.session.execute(
        sa.update(RefreshToken)
        .where(
            RefreshToken.id == token.id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.idle_expires_at > now,
        )
        .values(used_at=now)
        .returning(RefreshToken.id)
    ).first()
    if row is not None:
        return
    old = db.session.get(RefreshToken, token.id)
    assert old is not None
    db.session.refresh(old)
    if old.used_at is not None:
        log.warning(
            "refresh token reuse", extra={"event": "refresh_token.reuse", "detail": f"sid={old.family_id}"}
        )
        audit.record("refresh_token.reused", object_type="session", object_id=old.family_id)
        revoke_family(old.family_id, "refresh_token_reuse")
        raise RefreshTokenReuse("This refresh token was already used; the session has been ended.")
    raise InvalidGrant("The refresh token has expired or was revoked.")


def refreshed_family(family_id: uuid.UUID) -> SessionFamily:
    """The live session a refresh continues; a staff session takes the roles of the staff record now,
    and a staff user with no role left is logged out everywhere (:class:`NoRoleLeft`)."""
    family = live_family(family_id)
    if family.staff_user_id is not None:
        roles = staff_roles(family.staff_user_id)
        if not roles:
            revoke_staff_sessions(family.staff_user_id, "no_role")
            raise NoRoleLeft("This staff user holds no role any more; every session has ended.")
        family.roles = sorted(roles)
        db.session.flush()
    return family


@dataclass(frozen=True)
class RevocableToken:
    family_id: uuid.UUID
    client_id: str


def find_revocable(token: str) -> RevocableToken | None:
    """The session a refresh token or an access token belongs to (RFC 7009: either may be sent)."""
    row = db.session.execute(
        sa.select(RefreshToken.family_id, SessionFamily.client_id)
        .join(SessionFamily, RefreshToken.family_id == SessionFamily.id)
        .where(RefreshToken.token_hash == sha256(token))
    ).first()
    if row is not None:
        return RevocableToken(*row)
    if token.count(".") != 2:
        return None
    try:
        principal = verify_access_token(token)
    except Unauthorized:
        return None
    return RevocableToken(principal.session_id, principal.client_id)


def logout_refresh_token(client_id: str, refresh_token: str) -> None:
    """Revoke the session a refresh token belongs to (idempotent; unknown tokens are ignored)."""
    token = db.session.scalar(sa.select(RefreshToken).where(RefreshToken.token_hash == sha256(refresh_token)))
    if token is None:
        return
    family = db.session.get(SessionFamily, token.family_id)
    if family is not None and family.client_id == client_id:
        revoke_family(family.id, "logout")


def participants_logged_in(since: datetime) -> dict[str, int]:
    """How many participants have ever logged in, and how many since ``since`` (counted in SQL)."""
    distinct = sa.func.count(sa.distinct(SessionFamily.participant_id))
    ever, recent = db.session.execute(
        sa.select(
            distinct,
            sa.func.count(
                sa.distinct(sa.case((SessionFamily.created_at >= since, SessionFamily.participant_id)))
            ),
        ).where(SessionFamily.participant_id.is_not(None))
    ).one()
    return {"ever": int(ever or 0), "recently": int(recent or 0)}
