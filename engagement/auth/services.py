"""The rules of logging in: app clients, login transactions, the upstream provider's answer checked
into an identity, and the app's one-time code. The session a login opens, its refresh tokens and
their revocation are :mod:`engagement.auth.sessions`; the errors, :mod:`engagement.auth.errors`.
Services flush; the route commits."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from engagement import audit, clock
from engagement.auth import sessions
from engagement.auth.errors import (
    LoginFailed,
    UnknownLogin,
)
from engagement.auth.models import (
    AppAuthorizationCode,
    LoginTransaction,
    SessionFamily,
    StaffUser,
)
from engagement.auth.oidc import LEEWAY_SECONDS, UpstreamError, upstream
from engagement.auth.sessions import ClientKind
from engagement.extensions import db
from engagement.participants import services as participants
from engagement.participants.models import Participant
from engagement.security import (
    ROLES,
)

log = logging.getLogger("engagement.security")

LOGIN_LIFETIME = timedelta(minutes=10)
CODE_LIFETIME = timedelta(seconds=60)
UI_LOCALES = ("nb", "nn", "en", "se")
PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # BASE64URL(SHA256(verifier)), RFC 7636 §4.2
STATE = re.compile(r"[\x20-\x7e]{1,512}")
MAX_AGE = re.compile(r"0|[1-9][0-9]{0,6}")  # seconds (OpenID Connect Core §3.1.2.1)
DEV_APP_CLIENTS: list[dict[str, Any]] = [
    {
        "client_id": "moba-app",
        "kind": "participant",
        "redirect_uris": ["no.moba.engagement:/oauth/callback", "http://127.0.0.1/callback"],
    },
    {"client_id": "moba-staff-cli", "kind": "staff", "redirect_uris": ["http://127.0.0.1/callback"]},
]


# --- app clients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppClient:
    client_id: str
    kind: ClientKind
    redirect_uris: tuple[str, ...]

    def accepts_redirect(self, uri: str) -> bool:
        """Exact match; staff clients also get loopback redirects on any port (RFC 8252 §7.3).

        Compared as strings: the URI must be a registered loopback URI with a port added and nothing
        else changed, so a tab, a newline, an empty query or a fragment marker never passes (a parser
        such as ``urlsplit`` would strip or ignore them)."""
        if _CONTROL.search(uri):
            return False
        if uri in self.redirect_uris:
            return True
        if self.kind != "staff":
            return False
        for registered in self.redirect_uris:
            host, path = _loopback_parts(registered)
            if host is None or not uri.startswith(host + ":"):
                continue
            port, slash, rest = uri[len(host) + 1 :].partition("/")
            if (
                slash
                and "/" + rest == path
                and port.isascii()
                and port.isdigit()
                and not port.startswith("0")
                and int(port) <= 65535
            ):
                return True
        return False


_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _loopback_parts(registered: str) -> tuple[str | None, str]:
    """``("http://127.0.0.1", "/callback")`` for a registered loopback redirect without a port."""
    match = re.fullmatch(r"(http://(?:127\.0\.0\.1|\[::1\]))(/[^?#]*)", registered)
    if match is None:
        return None, ""
    return match.group(1), match.group(2)


def app_clients() -> dict[str, AppClient]:
    configured = current_app.config.get("APP_CLIENTS")
    if configured is None and current_app.config["ENV"] != "production":
        configured = DEV_APP_CLIENTS
    clients: dict[str, AppClient] = {}
    for entry in configured or []:
        if entry.get("kind") not in ("participant", "staff"):
            raise ValueError(f"APP_CLIENTS: client {entry.get('client_id')!r} has no valid kind")
        clients[entry["client_id"]] = AppClient(
            entry["client_id"], entry["kind"], tuple(entry.get("redirect_uris", []))
        )
    return clients


# --- step 1: the app asks to log in ----------------------------------------------------------------


@dataclass
class LoginStart:
    upstream_url: str
    browser_secret: str


def start_login(client: AppClient, params: dict[str, str], browser_secret: str | None) -> LoginStart:
    """Keep a login transaction for the app's authorization request and build the upstream URL.

    ``params`` is the request as the OAuth server accepted it (client, redirect URI, PKCE S256
    challenge, state; ``prompt``, ``max_age`` and ``ui_locales`` optional). ``max_age`` is passed on
    to the provider and the callback checks ``auth_time`` against it. Raises :class:`LoginFailed` for
    errors the app should receive at its redirect URI.
    """
    prompt = params.get("prompt")
    max_age = params.get("max_age") if MAX_AGE.fullmatch(params.get("max_age") or "") else None
    provider = upstream("idporten" if client.kind == "participant" else "staff")
    upstream_state, nonce, verifier = (
        sessions.new_secret(),
        sessions.new_secret(),
        sessions.new_secret() + sessions.new_secret(),
    )
    browser_secret = browser_secret or sessions.new_secret()
    now = clock.now()
    db.session.add(
        LoginTransaction(
            state_hash=sessions.sha256(upstream_state),
            browser_hash=sessions.sha256(browser_secret),
            kind=client.kind,
            client_id=client.client_id,
            redirect_uri=params["redirect_uri"],
            client_state=params["state"],
            code_challenge=params["code_challenge"],
            max_age=int(max_age) if max_age is not None else None,
            nonce=nonce,
            code_verifier=verifier,
            expires_at=now + LOGIN_LIFETIME,
        )
    )
    db.session.flush()
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": callback_url(client.kind),
        "scope": "openid profile",
        "state": upstream_state,
        "nonce": nonce,
        "code_challenge": sessions.s256(verifier),
        "code_challenge_method": "S256",
    }
    if client.kind == "participant":
        query["acr_values"] = acr_allowlist()[0]
    locales = [loc for loc in params.get("ui_locales", "").split() if loc in UI_LOCALES]
    if locales:
        query["ui_locales"] = " ".join(locales)
    if prompt == "login":
        query["prompt"] = "login"
    if max_age is not None:
        query["max_age"] = max_age
    try:
        url = provider.authorization_url(query)
    except UpstreamError as exc:
        log.error("login start failed: %s", exc)
        raise LoginFailed("temporarily_unavailable", "the login provider cannot be reached") from None
    return LoginStart(url, browser_secret)


def callback_url(kind: ClientKind) -> str:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return f"{base}/auth/{'idporten' if kind == 'participant' else 'staff'}/callback"


def acr_allowlist() -> list[str]:
    return str(current_app.config["IDPORTEN_ACR_VALUES"]).split()


# --- step 2: the upstream provider comes back -------------------------------------------------------


def take_login(kind: ClientKind, state: str | None, browser_secret: str | None) -> LoginTransaction:
    """The login this callback belongs to, consumed at once (single use, same browser, not expired).

    A callback from another browser neither finishes nor uses up the login."""
    if not state or not browser_secret:
        raise UnknownLogin()
    now = clock.now()
    row = db.session.execute(
        sa.update(LoginTransaction)
        .where(
            LoginTransaction.state_hash == sessions.sha256(state),
            LoginTransaction.browser_hash == sessions.sha256(browser_secret),
            LoginTransaction.kind == kind,
            LoginTransaction.consumed_at.is_(None),
            LoginTransaction.expires_at > now,
        )
        .values(consumed_at=now)
        .returning(LoginTransaction.id)
    ).first()
    if row is None:
        raise UnknownLogin()
    login = db.session.get(LoginTransaction, row[0])
    assert login is not None
    db.session.refresh(login)
    return login


@dataclass
class Identity:
    participant: Participant | None
    staff: StaffUser | None
    issuer: str
    sid: str | None
    acr: str | None
    auth_time: datetime | None
    roles: list[str]


def finish_login(login: LoginTransaction, args: dict[str, str]) -> Identity:
    """Check ``iss`` (RFC 9207), trade the code, validate the ID token and find who logged in."""
    provider = upstream("idporten" if login.kind == "participant" else "staff")
    if args.get("error"):
        if args["error"] in ("access_denied", "login_required"):
            raise LoginFailed(args["error"], "login_cancelled")
        # The provider refused this service's own request (invalid_request, ...): not the user's doing.
        _login_failure(login, "provider_error", "error=" + re.sub(r"[^a-z_]", "", args["error"])[:40])
        raise LoginFailed("access_denied", "login_failed")
    try:
        metadata = provider.metadata()
    except UpstreamError as exc:
        log.error("login callback: %s", exc)
        raise LoginFailed("temporarily_unavailable", "the login provider cannot be reached") from None
    if args.get("iss") != metadata["issuer"] and (
        "iss" in args or metadata.get("authorization_response_iss_parameter_supported")
    ):
        _login_failure(login, "iss_mismatch")
        raise LoginFailed("access_denied", "issuer_mismatch")
    if not args.get("code"):
        raise LoginFailed("access_denied", "no_code")
    try:
        tokens = provider.exchange_code(args["code"], callback_url(login.kind), login.code_verifier)  # type: ignore[arg-type]
        claims = provider.validate_id_token(tokens["id_token"], nonce=login.nonce)
    except UpstreamError as exc:
        _login_failure(login, "id_token_rejected", str(exc))
        raise LoginFailed("access_denied", "login_failed") from None
    try:
        when = checked_auth_time(claims, login)
    except ValueError as exc:
        _login_failure(login, "id_token_rejected", f"auth_time {exc}")
        raise LoginFailed("access_denied", "login_failed") from None
    if login.max_age is not None and (
        when is None or clock.now() - when > timedelta(seconds=login.max_age + LEEWAY_SECONDS)
    ):
        # A15: the app asked for a recent authentication (max_age) and the provider reused an older one
        _login_failure(login, "auth_time_too_old", f"max_age={login.max_age}")
        raise LoginFailed("access_denied", "login_too_old")
    if login.kind == "participant":
        return _participant_identity(login, claims, metadata["issuer"], when)
    return _staff_identity(login, claims, metadata["issuer"], when)


def checked_auth_time(claims: dict[str, Any], login: LoginTransaction) -> datetime | None:
    """``auth_time`` of a validated ID token, if it makes sense: an integer, not in the future beyond
    the leeway, not earlier than ``iat`` minus the longest session; :class:`ValueError` otherwise."""
    value = claims.get("auth_time")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("is not an integer")
    now = int(clock.now().timestamp())
    if value > now + LEEWAY_SECONDS:
        raise ValueError("is in the future")
    iat = claims.get("iat")
    _idle, longest = sessions.session_lifetimes()
    if isinstance(iat, int) and value < iat - int(longest.total_seconds()):
        raise ValueError("is older than a session may last")
    return datetime.fromtimestamp(value, UTC)


def _participant_identity(
    login: LoginTransaction, claims: dict[str, Any], issuer: str, auth_time: datetime | None
) -> Identity:
    acr = claims.get("acr")
    if acr not in acr_allowlist():
        _login_failure(login, "acr_too_low", f"acr={str(acr)[:40]}")
        raise LoginFailed("access_denied", "acr_too_low")
    sid = claims.get("sid")
    if not isinstance(sid, str) or auth_time is None:
        _login_failure(login, "id_token_rejected", "sid or auth_time missing")
        raise LoginFailed("access_denied", "login_failed")
    pid = claims.get("pid")
    if not isinstance(pid, str):
        _login_failure(login, "not_a_participant", "no pid")
        raise LoginFailed("access_denied", "not_a_participant")
    try:
        participants.parse_person_number(pid, allow_synthetic=participants.allow_synthetic())
    except participants.InvalidPersonNumber:
        _login_failure(login, "not_a_participant", "pid missing or not valid")
        raise LoginFailed("access_denied", "not_a_participant") from None
    participant = participants.find_by_pid(pid)
    if participant is None:
        _login_failure(login, "not_a_participant")
        raise LoginFailed("access_denied", "not_a_participant")
    adult_from = participants.adult_from(participant.birth_date)
    if participants.today_in_oslo() < adult_from:
        _login_failure(login, "under_18", subject=participant.id)
        raise LoginFailed("access_denied", "under_18", join_date=adult_from.isoformat())
    return Identity(participant, None, issuer, sid, acr, auth_time, [])


def _staff_identity(
    login: LoginTransaction, claims: dict[str, Any], issuer: str, auth_time: datetime | None
) -> Identity:
    """The staff user, their record (name, roles) updated from the provider's claims at every login.

    Someone the provider no longer gives a role is refused, and their record says so: it holds no
    role and their other sessions end (a refresh would otherwise carry the old roles on)."""
    claimed = claims.get(current_app.config["STAFF_ROLES_CLAIM"]) or []
    if isinstance(claimed, str):
        claimed = claimed.split()
    roles = (
        sorted({r for r in claimed if isinstance(r, str)} & set(ROLES)) if isinstance(claimed, list) else []
    )
    subject = str(claims["sub"])
    staff = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.issuer == issuer, StaffUser.subject == subject)
    )
    if not roles:
        if staff is not None:
            staff.roles = []
            db.session.flush()
            sessions.revoke_staff_sessions(staff.id, "no_role")
        _login_failure(login, "not_staff", subject=staff.id if staff else None)
        raise LoginFailed("access_denied", "not_staff")
    if staff is None:
        staff = StaffUser(issuer=issuer, subject=subject)
        db.session.add(staff)
    staff.roles = roles
    staff.name = str(claims.get("name"))[:255] if claims.get("name") else staff.name
    staff.last_login_at = clock.now()
    db.session.flush()
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    return Identity(None, staff, issuer, sid, claims.get("acr"), auth_time, roles)


def _login_failure(
    login: LoginTransaction, reason: str, detail: str = "", subject: uuid.UUID | None = None
) -> None:
    log.warning(
        "login failed", extra={"event": "login.failed", "detail": f"{login.kind} {reason} {detail}".strip()}
    )
    audit.record(
        "login.failed",
        actor_kind=login.kind,
        actor_id=subject,
        details={"reason": reason, "client_id": login.client_id},
    )


def issue_app_code(login: LoginTransaction, identity: Identity, code: str) -> SessionFamily:
    """Open a session for the identity and keep the app's one-time ``code`` (60 s) for it."""
    family = sessions.open_session(
        kind=login.kind,  # type: ignore[arg-type]
        client_id=login.client_id,
        participant_id=identity.participant.id if identity.participant else None,
        staff_user_id=identity.staff.id if identity.staff else None,
        upstream_issuer=identity.issuer,
        upstream_sid=identity.sid,
        acr=identity.acr,
        auth_time=identity.auth_time,
        roles=identity.roles,
    )
    db.session.add(
        AppAuthorizationCode(
            code_hash=sessions.sha256(code),
            family_id=family.id,
            client_id=login.client_id,
            redirect_uri=login.redirect_uri,
            code_challenge=login.code_challenge,
            expires_at=clock.now() + CODE_LIFETIME,
        )
    )
    db.session.flush()
    subject = family.subject_id
    log.info("login succeeded", extra={"event": "login.succeeded", "detail": f"{login.kind} sid={family.id}"})
    audit.record(
        "login.succeeded",
        actor_kind=login.kind,
        actor_id=subject,
        object_type="session",
        object_id=family.id,
        details={"client_id": login.client_id, "acr": identity.acr},
    )
    return family
