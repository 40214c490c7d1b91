"""The rules of logging in and staying logged in: app clients, login transactions, one-time codes,
sessions (families) and rotating refresh tokens. Services flush; the route commits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

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
from engagement.auth.oidc import UpstreamError, upstream
from engagement.extensions import db
from engagement.participants import services as participants
from engagement.participants.models import Participant
from engagement.problems import BadRequest, DomainError
from engagement.security import ACCESS_TOKEN_LIFETIME, ROLES, Principal, issue_access_token

log = logging.getLogger("engagement.security")

ClientKind = Literal["participant", "staff"]
LOGIN_LIFETIME = timedelta(minutes=10)
CODE_LIFETIME = timedelta(seconds=60)
UI_LOCALES = ("nb", "nn", "en", "se")
_PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_STATE = re.compile(r"^[\x20-\x7e]{1,512}$")
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
    """An OAuth error (RFC 6749 §5.2) as problem+json; ``error`` carries the OAuth code for clients."""

    status, slug, title = 400, "invalid-request", "The OAuth request is not valid"
    error = "invalid_request"

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


class RefreshTokenReuse(InvalidGrant):
    """A rotated refresh token came back: its whole family was revoked (commit before answering)."""


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
        """Exact match; staff clients also get loopback redirects on any port (RFC 8252 §7.3)."""
        if uri in self.redirect_uris:
            return True
        if self.kind != "staff":
            return False
        try:
            given = urlsplit(uri)
            port = given.port
        except ValueError:
            return False
        if given.scheme != "http" or port is None or not _is_loopback(given.hostname or ""):
            return False
        for registered in self.redirect_uris:
            reg = urlsplit(registered)
            if (
                reg.scheme == "http"
                and reg.port is None
                and _is_loopback(reg.hostname or "")
                and reg.hostname == given.hostname
                and (reg.path, reg.query) == (given.path, given.query)
                and not given.username
                and not given.password
                and not given.fragment
            ):
                return True
        return False


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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


def get_client(client_id: str | None) -> AppClient:
    client = app_clients().get(client_id or "")
    if client is None:
        raise InvalidClient("Unknown client_id.")
    return client


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


def check_redirect(params: dict[str, str]) -> AppClient:
    """The client and its exact redirect URI; failures here never redirect (RFC 9700 §4.1)."""
    client = get_client(params.get("client_id"))
    if not client.accepts_redirect(params.get("redirect_uri", "")):
        raise InvalidRequest("redirect_uri is not registered for this client.")
    return client


def start_login(client: AppClient, params: dict[str, str], browser_secret: str | None) -> LoginStart:
    """Validate the app's authorization request, keep a login transaction, and build the upstream URL.

    Raises :class:`LoginFailed` for errors the app should receive at its redirect URI.
    """
    if params.get("response_type") != "code":
        raise LoginFailed("unsupported_response_type", "response_type must be code")
    if params.get("code_challenge_method") != "S256":
        raise LoginFailed("invalid_request", "code_challenge_method must be S256")
    if not _PKCE_CHALLENGE.match(params.get("code_challenge", "")):
        raise LoginFailed("invalid_request", "code_challenge must be a base64url SHA-256 (43 characters)")
    state = params.get("state", "")
    if not _STATE.match(state):
        raise LoginFailed("invalid_request", "state is required (printable ASCII, at most 512 characters)")
    prompt = params.get("prompt")
    if prompt not in (None, "", "login"):
        raise LoginFailed("invalid_request", "prompt may only be login")
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
            client_state=state,
            code_challenge=params["code_challenge"],
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
    auth_time = claims.get("auth_time")
    when = datetime.fromtimestamp(auth_time, UTC) if isinstance(auth_time, int) else None
    if login.kind == "participant":
        return _participant_identity(login, claims, metadata["issuer"], when)
    return _staff_identity(login, claims, metadata["issuer"], when)


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
    claimed = claims.get(current_app.config["STAFF_ROLES_CLAIM"]) or []
    if isinstance(claimed, str):
        claimed = claimed.split()
    roles = sorted({r for r in claimed if isinstance(r, str)} & set(ROLES))
    if not roles:
        _login_failure(login, "not_staff")
        raise LoginFailed("access_denied", "not_staff")
    subject = str(claims["sub"])
    staff = db.session.scalar(
        sa.select(StaffUser).where(StaffUser.issuer == issuer, StaffUser.subject == subject)
    )
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


def issue_app_code(login: LoginTransaction, identity: Identity) -> str:
    """Open a session for the identity and give the app a one-time code (60 s) for it."""
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
    code = new_secret()
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
    return code


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


def revoke_participant_sessions(participant_id: uuid.UUID, reason: str) -> int:
    """Log a participant out everywhere (also used by withdrawal and account deletion)."""
    return revoke_sessions(SessionFamily.participant_id == participant_id, reason)


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


# --- step 3: tokens ---------------------------------------------------------------------------------


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int


def _mint(family: SessionFamily, parent_id: uuid.UUID | None) -> TokenSet:
    idle, _absolute = session_lifetimes()
    now = clock.now()
    refresh = new_secret()
    db.session.add(
        RefreshToken(
            family_id=family.id,
            token_hash=sha256(refresh),
            parent_id=parent_id,
            created_at=now,
            idle_expires_at=min(now + idle, family.absolute_expires_at),
        )
    )
    family.last_used_at = now
    db.session.flush()
    return TokenSet(
        issue_access_token(principal_for(family)), refresh, int(ACCESS_TOKEN_LIFETIME.total_seconds())
    )


def redeem_code(client_id: str, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
    """authorization_code grant: single use (a replay revokes the session), 60 s, PKCE S256, same client
    and redirect. Raises :class:`RefreshTokenReuse` (commit first) on a replay."""
    db.lock_for_write()
    client = get_client(client_id)
    now = clock.now()
    code_hash = sha256(code or "")
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
    if grant.client_id != client.client_id or grant.redirect_uri != redirect_uri:
        raise InvalidGrant("The code was issued to another client or redirect_uri.")
    if not _PKCE_VERIFIER.match(code_verifier or "") or not hmac.compare_digest(
        s256(code_verifier), grant.code_challenge
    ):
        raise InvalidGrant("code_verifier does not match the code_challenge.")
    family = db.session.get(SessionFamily, row[0])
    if family is None or family.revoked_at is not None or family.absolute_expires_at <= now:
        raise InvalidGrant("The session of this code has ended.")
    return _mint(family, None)


def refresh(client_id: str, refresh_token: str) -> TokenSet:
    """refresh_token grant: rotate atomically; a rotated token coming back revokes its family
    (raises :class:`RefreshTokenReuse`; commit first). Of two concurrent uses exactly one wins."""
    db.lock_for_write()
    client = get_client(client_id)
    now = clock.now()
    token_hash = sha256(refresh_token or "")
    bound = db.session.execute(
        sa.select(SessionFamily.client_id)
        .join(RefreshToken, RefreshToken.family_id == SessionFamily.id)
        .where(RefreshToken.token_hash == token_hash)
    ).scalar()
    if bound is None:
        raise InvalidGrant("Unknown refresh token.")
    if bound != client.client_id:
        raise InvalidGrant("The refresh token was issued to another client.")
    row = db.session.execute(
        sa.update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.idle_expires_at > now,
        )
        .values(used_at=now)
        .returning(RefreshToken.id, RefreshToken.family_id)
    ).first()
    if row is None:
        old = db.session.scalar(sa.select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        if old is not None and old.used_at is not None:
            log.warning(
                "refresh token reuse",
                extra={"event": "refresh_token.reuse", "detail": f"sid={old.family_id}"},
            )
            audit.record("refresh_token.reused", object_type="session", object_id=old.family_id)
            revoke_family(old.family_id, "refresh_token_reuse")
            raise RefreshTokenReuse("This refresh token was already used; the session has been ended.")
        raise InvalidGrant("The refresh token has expired or was revoked.")
    token_id, family_id = row
    family = db.session.get(SessionFamily, family_id)
    assert family is not None
    db.session.refresh(family)
    if family.revoked_at is not None or family.absolute_expires_at <= now:
        raise InvalidGrant("The session has ended; log in again.")
    return _mint(family, token_id)


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
