"""Retention of login state: what a login leaves behind is deleted once nobody can need it.

Login transactions hold the upstream nonce and PKCE verifier, authorization codes and refresh tokens
are (hashed) credentials, and sessions name a device's login; none of it is kept forever. The periods
are in the README ("Retention"); ``flask maintenance purge`` and the reminder worker (hourly) apply them.
Like every service, :func:`purge` only flushes; its caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from engagement import audit
from engagement.auth.models import AppAuthorizationCode, LoginTransaction, RefreshToken, SessionFamily
from engagement.extensions import db

log = logging.getLogger(__name__)

# A login transaction lives 10 minutes and a code 60 seconds; a day more leaves time to look into a
# failed login, and nothing in them is of use after that.
LOGIN_TRANSACTION_RETENTION = timedelta(days=1)
AUTHORIZATION_CODE_RETENTION = timedelta(days=1)
# An ended session (logged out, revoked or past its absolute end, at most 12 hours after login) is
# kept 30 days with its refresh tokens, to investigate a reported misuse; the audit keeps the events.
ENDED_SESSION_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class Purged:
    login_transactions: int
    authorization_codes: int
    refresh_tokens: int
    sessions: int

    @property
    def total(self) -> int:
        return self.login_transactions + self.authorization_codes + self.refresh_tokens + self.sessions

    def line(self) -> str:
        return (
            f"purged login transactions {self.login_transactions}, authorization codes "
            f"{self.authorization_codes}, refresh tokens {self.refresh_tokens}, sessions {self.sessions}"
        )


def _deleted(statement: sa.Delete) -> int:
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def purge(at: datetime) -> Purged:
    """Delete login transactions and codes expired more than a day before ``at``, and sessions ended
    more than 30 days before it (with their codes and refresh tokens). Live ones are never touched."""
    ended = sa.select(SessionFamily.id).where(
        sa.or_(
            SessionFamily.revoked_at < at - ENDED_SESSION_RETENTION,
            SessionFamily.absolute_expires_at < at - ENDED_SESSION_RETENTION,
        )
    )
    family_ids = list(db.session.scalars(ended))
    refresh_tokens = codes_of_ended = sessions = 0
    for start in range(0, len(family_ids), 500):
        chunk = family_ids[start : start + 500]
        refresh_tokens += _deleted(sa.delete(RefreshToken).where(RefreshToken.family_id.in_(chunk)))
        codes_of_ended += _deleted(
            sa.delete(AppAuthorizationCode).where(AppAuthorizationCode.family_id.in_(chunk))
        )
        sessions += _deleted(sa.delete(SessionFamily).where(SessionFamily.id.in_(chunk)))
    codes = codes_of_ended + _deleted(
        sa.delete(AppAuthorizationCode).where(
            AppAuthorizationCode.expires_at < at - AUTHORIZATION_CODE_RETENTION
        )
    )
    logins = _deleted(
        sa.delete(LoginTransaction).where(LoginTransaction.expires_at < at - LOGIN_TRANSACTION_RETENTION)
    )
    db.session.flush()
    purged = Purged(logins, codes, refresh_tokens, sessions)
    if purged.total:
        audit.record(
            "retention.purged",
            details={
                "login_transactions": logins,
                "authorization_codes": codes,
                "refresh_tokens": refresh_tokens,
                "sessions": sessions,
            },
        )
    log.info(purged.line(), extra={"event": "retention.purged"})
    return purged
