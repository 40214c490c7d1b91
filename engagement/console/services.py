"""Console browser sessions on top of the auth domain's login and session rules.

A staff user signs in through the staff OpenID provider with the same login transaction, callback and
ID-token checks as every other login (:mod:`engagement.auth.services`); the console then opens a
session family of client ``console`` and gives the browser an opaque secret whose SHA-256 finds it.
At every request the family must be live (not revoked, within its absolute lifetime and idle timeout)
and the roles are read from the staff table: a role removed there stops working at once, and a staff
user with no role left is logged out. Services flush; the request commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from engagement import audit, clock
from engagement.auth import services as auth
from engagement.auth import sessions
from engagement.auth.models import LoginTransaction, SessionFamily, StaffUser
from engagement.console.models import ConsoleSession
from engagement.extensions import db
from engagement.security import ROLES

CLIENT_ID = "console"
# last_used_at is written at most this often, so that a page with many requests is not many writes
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class ConsoleUser:
    """The staff user behind a console request, with the roles the staff table gives them now."""

    staff_id: uuid.UUID
    session_id: uuid.UUID
    name: str
    roles: frozenset[str]

    def has_any(self, roles: tuple[str, ...]) -> bool:
        return bool(self.roles & set(roles))


def _client() -> auth.AppClient:
    return auth.AppClient(CLIENT_ID, "staff", (console_url(),))


def console_url() -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + "/console"


def safe_next(value: str | None) -> str:
    """A path inside the console to return to after login (anything else: the overview)."""
    if value and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value[:400]
    return "/console"


def start_login(next_path: str | None, browser_secret: str | None) -> auth.LoginStart:
    """A staff login transaction for the console, and the staff provider's URL to send the browser to."""
    params = {
        "response_type": "code",
        "code_challenge_method": "S256",
        # the console is its own client: no app code is ever issued, so this challenge is never checked
        "code_challenge": sessions.s256(sessions.new_secret()),
        "state": safe_next(next_path),
        "redirect_uri": console_url(),
    }
    return auth.start_login(_client(), params, browser_secret)


def finish_login(login: LoginTransaction, args: dict[str, str]) -> tuple[str, str]:
    """Check the provider's answer and open a console session; returns ``(cookie secret, next path)``.

    Raises :class:`engagement.auth.errors.LoginFailed` as the other logins do."""
    identity = auth.finish_login(login, args)
    assert identity.staff is not None
    family = sessions.open_session(
        kind="staff",
        client_id=CLIENT_ID,
        staff_user_id=identity.staff.id,
        upstream_issuer=identity.issuer,
        upstream_sid=identity.sid,
        acr=identity.acr,
        auth_time=identity.auth_time,
        roles=identity.roles,
    )
    family.last_used_at = clock.now()
    secret = sessions.new_secret()
    db.session.add(ConsoleSession(secret_hash=sessions.sha256(secret), family_id=family.id))
    db.session.flush()
    audit.record(
        "login.succeeded",
        actor_kind="staff",
        actor_id=identity.staff.id,
        object_type="session",
        object_id=family.id,
        details={"client_id": CLIENT_ID, "acr": identity.acr},
    )
    return secret, safe_next(login.client_state)


def resolve(secret: str | None) -> ConsoleUser | None:
    """The staff user whose live console session ``secret`` names, or None.

    Ends the session (and returns None) when it has been idle too long or its user has no role left."""
    if not secret:
        return None
    row = db.session.execute(
        sa.select(SessionFamily, StaffUser)
        .join(ConsoleSession, ConsoleSession.family_id == SessionFamily.id)
        .join(StaffUser, StaffUser.id == SessionFamily.staff_user_id)
        .where(ConsoleSession.secret_hash == sessions.sha256(secret))
    ).first()
    if row is None:
        return None
    family, staff = row
    now = clock.now()
    if family.revoked_at is not None or family.absolute_expires_at <= now:
        return None
    idle, _absolute = sessions.session_lifetimes()
    if (family.last_used_at or family.created_at) + idle <= now:
        sessions.revoke_family(family.id, "idle_timeout")
        return None
    roles = frozenset(r for r in staff.roles or [] if r in ROLES)
    if not roles:
        sessions.revoke_sessions(SessionFamily.staff_user_id == staff.id, "no_role_left")
        return None
    if family.last_used_at is None or now - family.last_used_at >= TOUCH_EVERY:
        family.last_used_at = now
        db.session.flush()
    return ConsoleUser(staff.id, family.id, staff.name or staff.subject, roles)


def logout(user: ConsoleUser) -> None:
    """End this console session."""
    sessions.revoke_family(user.session_id, "logout")
    record_action(user, "console.logout", "session", user.session_id)


def logout_everywhere(user: ConsoleUser) -> int:
    """End every session of this staff user: the console's and the API's."""
    ended = sessions.revoke_sessions(SessionFamily.staff_user_id == user.staff_id, "logout_everywhere")
    record_action(user, "console.logout_everywhere", "staff_user", user.staff_id, {"sessions": ended})
    return ended


def record_action(
    user: ConsoleUser,
    action: str,
    object_type: str | None = None,
    object_id: uuid.UUID | str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit a console action with the staff user who took it."""
    audit.record(
        action,
        actor_kind="staff",
        actor_id=user.staff_id,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
