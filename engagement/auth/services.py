"""The rules of logging in and staying logged in: app clients, login transactions, one-time codes,
sessions (families) and rotating refresh tokens. Services flush; the route commits."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from flask import current_app

from engagement import audit, clock
from engagement.auth.models import (
    AppAuthorizationCode,
    LoginTransaction,
    RefreshToken,
    SessionFamily,
    StaffUser,
)
from engagement.auth.oidc import LEEWAY_SECONDS, UpstreamError, upstream
from engagement.extensions import db
from engagement.participants import services as participants
from engagement.participants.models import Participant
from engagement.problems import BadRequest, DomainError, Unauthorized
from engagement.security import (
    ACCESS_TOKEN_LIFETIME,
    ROLES,
    Principal,
    issue_access_token,
    verify_access_token,
)

log = logging.getLogger("engagement.security")

ClientKind = Literal["participant", "staff"]
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


# --- errors ----------------------------------------------------------------------------------------


class OAuthError(DomainError):
    """An OAuth error (RFC 6749 §5.2) as problem+json; ``error`` carries the OAuth code for clients.

    ``commit_first``: what the refusal did (a revoked session) must be committed before answering."""

    status, slug, title = 400, "invalid-request", "The OAuth request is not valid"
    error = "invalid_request"
    commit_first = False

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, error=self.error, error_description=detail or self.title)


class InvalidRequest(OAuthError):
    pass


class InvalidClient(OAuthError):
    status, slug, title, error = 401, "invalid-client", "Unknown client", "invalid_client"


class InvalidGrant(OAuthError):
    slug, title, error = "invalid-grant", "The code or refresh token is not valid", "invalid_grant"


class UnsupportedGrantType(OAuthError):
    slug, title, error = "unsupported-grant-type", "Unsupported grant type", "unsupported_grant_type"


class UnauthorizedClient(OAuthError):
    slug, title, error = "unauthorized-client", "This client may not use this grant", "unauthorized_client"


class UnsupportedResponseType(OAuthError):
    slug, title = "unsupported-response-type", "Unsupported response type"
    error = "unsupported_response_type"


class UnsupportedTokenType(OAuthError):
    slug, title, error = "unsupported-token-type", "Unsupported token type", "unsupported_token_type"


class InvalidScope(OAuthError):
    slug, title, error = "invalid-scope", "This service has no scopes", "invalid_scope"


class NoRoleLeft(InvalidGrant):
    """A staff user's record holds no role any more: every session of theirs has ended."""

    commit_first = True


class RefreshTokenReuse(InvalidGrant):
    """A rotated refresh token or a used code came back: its whole family was revoked."""

    commit_first = True


class UnknownLogin(BadRequest):
    slug, title = "login-not-found", "This login is unknown, expired or was opened in another browser"


class LoginFailed(Exception):
    """The login ended without a session; the app is sent ``error`` and ``error_description``."""

    def __init__(self, error: str, description: str, **extra: str) -> None:
        super().__init__(description)
        self.error, self.description, self.extra = error, description, extra


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


# --- hashing and randomness -------------------------------------------------------------------------


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


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
    upstream_state, nonce, verifier = new_secret(), new_secret(), new_secret() + new_secret()
    browser_secret = browser_secret or new_secret()
    now = clock.now()
    db.session.add(
        LoginTransaction(
            state_hash=sha256(upstream_state),
            browser_hash=sha256(browser_secret),
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
        "code_challenge": s256(verifier),
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
            LoginTransaction.state_hash == sha256(state),
            LoginTransaction.browser_hash == sha256(browser_secret),
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
    _idle, longest = session_lifetimes()
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
            revoke_staff_sessions(staff.id, "no_role")
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


def staff_roles(staff_user_id: uuid.UUID) -> frozenset[str]:
    """The roles a staff user holds now, as their record says (empty: none, or no such user)."""
    roles = db.session.scalar(sa.select(StaffUser.roles).where(StaffUser.id == staff_user_id))
    return frozenset(r for r in roles or [] if r in ROLES)


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
    family = open_session(
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
            code_hash=sha256(code),
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
