"""The backend's own access tokens, and who may call a route.

Access tokens are JWTs (RFC 9068: ``typ: at+jwt``), ES256 with a ``kid``, ten minutes long; their
``sub`` is an internal id, never a fødselsnummer. On every request the token's session (``sid``) is
checked through the session check the auth domain registers, so a revoked session stops at once.
"""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from flask import Flask, current_app, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from engagement import clock
from engagement.config import PROJECT_ROOT
from engagement.problems import Forbidden, Unauthorized

ACCESS_TOKEN_LIFETIME = timedelta(minutes=10)
AUDIENCE = "moba-engagement-api"
LEEWAY_SECONDS = 30
ROLES = ("coordinator", "researcher", "admin")

PrincipalKind = Literal["participant", "staff"]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Who is calling: a participant or a staff user, from a verified access token."""

    kind: PrincipalKind
    subject: uuid.UUID
    session_id: uuid.UUID
    client_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    acr: str | None = None
    auth_time: datetime | None = None

    @property
    def is_participant(self) -> bool:
        return self.kind == "participant"


SessionCheck = Callable[[Principal], bool]


class TokenKeys:
    """The signing key and the set of public keys accepted (retired keys stay until their tokens expire)."""

    def __init__(self, signing: ECKey, retired: list[ECKey] | None = None) -> None:
        self.signing = signing
        self.verifying = KeySet([signing, *(retired or [])])

    @classmethod
    def from_config(cls, app: Flask) -> TokenKeys:
        path = app.config.get("TOKEN_SIGNING_KEY")
        if path:
            data = json.loads(Path(path).read_text())
            keys = data.get("keys", [data])
            loaded = [ECKey.import_key(k) for k in keys]
            return cls(loaded[0], loaded[1:])
        if app.config["ENV"] == "test":
            return cls(generate_signing_key())
        # development: one key kept in instance/ so tokens survive a restart
        dev_path = PROJECT_ROOT / "instance" / "dev-token-signing-key.json"
        if not dev_path.exists():
            dev_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            dev_path.write_text(json.dumps(generate_signing_key().as_dict(private=True)))
            dev_path.chmod(0o600)
        return cls(ECKey.import_key(json.loads(dev_path.read_text())))

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) | {"use": "sig", "alg": "ES256"} for k in self.verifying]}


def generate_signing_key() -> ECKey:
    return ECKey.generate_key("P-256", {"kid": secrets.token_urlsafe(8)}, private=True)


def _keys() -> TokenKeys:
    keys: TokenKeys = current_app.extensions["engagement.token_keys"]
    return keys


def issue_access_token(principal: Principal) -> str:
    """A signed access token for ``principal``, valid for :data:`ACCESS_TOKEN_LIFETIME`."""
    now = clock.now()
    claims: dict[str, Any] = {
        "iss": current_app.config["PUBLIC_URL"],
        "aud": AUDIENCE,
        "sub": str(principal.subject),
        "sid": str(principal.session_id),
        "client_id": principal.client_id,
        "kind": principal.kind,
        "iat": int(now.timestamp()),
        "exp": int((now + ACCESS_TOKEN_LIFETIME).timestamp()),
        "jti": secrets.token_urlsafe(12),
    }
    if principal.roles:
        claims["roles"] = sorted(principal.roles)
    if principal.acr:
        claims["acr"] = principal.acr
    if principal.auth_time:
        claims["auth_time"] = int(principal.auth_time.timestamp())
    keys = _keys()
    header = {"alg": "ES256", "kid": keys.signing.kid, "typ": "at+jwt"}
    return jwt.encode(header, claims, keys.signing, algorithms=["ES256"])


def verify_access_token(token: str) -> Principal:
    """The principal a token names, or :class:`Unauthorized` (bad signature, type, issuer, audience, expiry)."""
    try:
        decoded = jwt.decode(token, _keys().verifying, algorithms=["ES256"])
    except (JoseError, ValueError) as exc:
        raise Unauthorized("The access token is not valid.", headers=_challenge("invalid_token")) from exc
    if decoded.header.get("typ") != "at+jwt":
        raise Unauthorized("The access token is not valid.", headers=_challenge("invalid_token"))
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(clock.now().timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": current_app.config["PUBLIC_URL"]},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
        sub={"essential": True},
        sid={"essential": True},
    )
    claims = decoded.claims
    try:
        registry.validate(claims)
        kind = claims["kind"]
        if kind not in ("participant", "staff"):
            raise ValueError(kind)
        auth_time = claims.get("auth_time")
        return Principal(
            kind=cast(PrincipalKind, kind),
            subject=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            client_id=str(claims.get("client_id", "")),
            roles=frozenset(claims.get("roles", [])) if kind == "staff" else frozenset(),
            acr=claims.get("acr"),
            auth_time=datetime.fromtimestamp(auth_time, tz=clock.now().tzinfo) if auth_time else None,
        )
    except (JoseError, KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("The access token is not valid.", headers=_challenge("invalid_token")) from exc


def _challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="moba-engagement"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


def current_principal() -> Principal:
    """The verified caller of this request (authenticating it on first use)."""
    # cached per request (not on ``g``: an app context may outlive one request, e.g. in tests)
    principal: Principal | None = request.environ.get("engagement.principal")
    if principal is not None:
        return principal
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an access token: Authorization: Bearer <token>.", headers=_challenge())
    principal = verify_access_token(token.strip())
    check: SessionCheck | None = current_app.extensions.get("engagement.session_check")
    if check is not None and not check(principal):
        raise Unauthorized("This session has ended; log in again.", headers=_challenge("invalid_token"))
    request.environ["engagement.principal"] = principal
    return principal


def login_required(view: F) -> F:
    """Any logged-in caller, participant or staff, may call the view."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current_principal()
        return view(*args, **kwargs)

    wrapper._access = "participant or staff"  # type: ignore[attr-defined]
    return cast(F, wrapper)


def participant_required(view: F) -> F:
    """Only a logged-in participant may call the view."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_principal().is_participant:
            raise Forbidden("Only participants may call this endpoint.")
        return view(*args, **kwargs)

    wrapper._access = "participant"  # type: ignore[attr-defined]
    return cast(F, wrapper)


def staff_required(*roles: str) -> Callable[[F], F]:
    """Only staff holding one of ``roles`` (any staff role when none is named) may call the view."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal.kind != "staff":
                raise Forbidden("Only staff may call this endpoint.")
            if roles and not (principal.roles & set(roles)):
                raise Forbidden(f"This endpoint needs one of the roles: {', '.join(roles)}.")
            return view(*args, **kwargs)

        wrapper._access = "staff:" + ",".join(roles or ROLES)  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorator


def init_app(app: Flask) -> None:
    app.extensions["engagement.token_keys"] = TokenKeys.from_config(app)
