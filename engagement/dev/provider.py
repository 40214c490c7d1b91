"""An ID-porten-like OpenID provider for development and tests (never served in production).

Code flow only; PKCE (S256) required; exact redirect URIs; single-use 60 s codes; ``iss`` in the
authorization response (RFC 9207); ID tokens RS256 with ``kid`` carrying ``acr``, ``amr``, ``sid``,
``auth_time``, ``pid`` and ``locale`` (ID-porten) or ``roles`` (staff); client authentication by
``client_secret_post``/``client_secret_basic`` or ``private_key_jwt``. People are picked on a page,
or directly with ``login_hint``. Tests change what it sends through ``id_token_overrides`` (claims to
replace or, with ``None``, leave out; an odd ``auth_time`` for instance) and read what it was asked in
``requests`` (``max_age``, ``prompt``, ...).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from engagement.dev.identities import DemoPerson, DemoStaff

CODE_SECONDS = 60
ID_TOKEN_SECONDS = 120


@dataclass
class StandInClient:
    client_id: str
    redirect_uris: tuple[str, ...]
    secret: str | None = None
    jwks: dict[str, Any] | None = None  # public keys for private_key_jwt


@dataclass
class _Pending:
    client_id: str
    redirect_uri: str
    state: str
    nonce: str
    challenge: str
    acr_values: list[str]
    created: float


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    claims: dict[str, Any]
    created: float
    used: bool = False


@dataclass
class StandInProvider:
    """One provider (``kind`` idporten or staff) with its people, clients, keys and in-memory state."""

    kind: str
    people: dict[str, DemoPerson | DemoStaff]
    clients: dict[str, StandInClient]
    acr_values: tuple[str, ...] = ("idporten-loa-substantial", "idporten-loa-high")
    keys: list[RSAKey] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)  # every login: sid, login_hint
    requests: list[dict[str, str]] = field(default_factory=list)  # tests: every authorization request
    id_token_overrides: dict[str, Any] = field(default_factory=dict)  # tests: claims to change
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _jtis: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.keys:
            self.keys = [new_rsa_key()]

    # -- helpers ------------------------------------------------------------------------------

    url_prefix: str = ""

    def issuer(self) -> str:
        """The issuer as reached by this request (host and port of whoever serves the provider)."""
        return request.url_root.rstrip("/") + self.url_prefix

    def rotate_keys(self, keep_old: bool = True) -> RSAKey:
        key = new_rsa_key()
        self.keys = [key, *self.keys] if keep_old else [key]
        return key

    def blueprint(self, name: str, url_prefix: str) -> Blueprint:
        self.url_prefix = url_prefix
        bp = Blueprint(name, __name__, url_prefix=url_prefix)
        bp.add_url_rule("/.well-known/openid-configuration", "discovery", self._discovery)
        bp.add_url_rule("/jwks.json", "jwks", self._jwks)
        bp.add_url_rule("/authorize", "authorize", self._authorize)
        bp.add_url_rule("/login", "login", self._login)
        bp.add_url_rule("/token", "token", self._token, methods=["POST"])
        return bp

    # -- endpoints ----------------------------------------------------------------------------

    def _discovery(self) -> Response:
        issuer = self.issuer()
        return jsonify(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks.json",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "client_secret_basic",
                    "private_key_jwt",
                ],
                "acr_values_supported": list(self.acr_values) if self.kind == "idporten" else [],
                "authorization_response_iss_parameter_supported": True,
                "frontchannel_logout_supported": True,
                "frontchannel_logout_session_supported": True,
                "subject_types_supported": ["pairwise"],
                "scopes_supported": ["openid", "profile"],
            }
        )

    def _jwks(self) -> Response:
        return jsonify(
            {"keys": [k.as_dict(private=False) | {"use": "sig", "alg": "RS256"} for k in self.keys]}
        )

    def _authorize(self) -> Response:
        args = request.args
        client = self.clients.get(args.get("client_id", ""))
        if client is None or args.get("redirect_uri") not in client.redirect_uris:
            return Response("unknown client or redirect_uri", status=400, mimetype="text/plain")
        redirect_uri, state = args["redirect_uri"], args.get("state", "")

        def fail(error: str, description: str) -> Response:
            query = {"error": error, "error_description": description, "state": state, "iss": self.issuer()}
            return redirect(f"{redirect_uri}?{urlencode(query)}")  # type: ignore[return-value]

        if args.get("response_type") != "code":
            return fail("unsupported_response_type", "code only")
        if args.get("code_challenge_method") != "S256" or len(args.get("code_challenge", "")) != 43:
            return fail("invalid_request", "PKCE with S256 is required")
        if "openid" not in args.get("scope", "").split() or not state or not args.get("nonce"):
            return fail("invalid_request", "scope openid, state and nonce are required")
        request_id = secrets.token_urlsafe(16)
        with self._lock:
            self.requests.append(dict(args.items()))
            self._pending[request_id] = _Pending(
                client.client_id,
                redirect_uri,
                state,
                args["nonce"],
                args["code_challenge"],
                args.get("acr_values", "").split(),
                time.monotonic(),
            )
        if args.get("login_hint"):
            return self._complete(request_id, args["login_hint"])
        return self._picker(request_id)

    def _picker(self, request_id: str) -> Response:
        issuer = self.issuer()
        items = []
        for hint, person in self.people.items():
            note = getattr(person, "note", "") or ", ".join(getattr(person, "roles", ()))
            link = f"{issuer}/login?{urlencode({'request': request_id, 'person': hint})}"
            items.append(
                f'<li><a href="{html.escape(link)}">{html.escape(person.name)}</a> '
                f"<small>({html.escape(hint)}: {html.escape(note)})</small></li>"
            )
        items.append(
            f'<li><a href="{html.escape(issuer)}/login?{urlencode({"request": request_id, "person": "-"})}">'
            "Cancel</a></li>"
        )
        title = "ID-porten (development stand-in)" if self.kind == "idporten" else "Staff login (development)"
        page = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
            f"<h1>{title}</h1><p>Synthetic test persons only. Pick who logs in:</p><ul>{''.join(items)}</ul>"
        )
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    def _login(self) -> Response:
        return self._complete(request.args.get("request", ""), request.args.get("person", ""))

    def _complete(self, request_id: str, hint: str) -> Response:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is None or time.monotonic() - pending.created > 600:
            return Response("unknown or expired login", status=400, mimetype="text/plain")
        person = self.people.get(hint)
        issuer = self.issuer()
        if person is None:
            query = {"error": "access_denied", "state": pending.state, "iss": issuer}
            return redirect(f"{pending.redirect_uri}?{urlencode(query)}")  # type: ignore[return-value]
        now = int(time.time())
        sid = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": pending.client_id,
            "sub": pairwise_subject(pending.client_id, hint),
            "nonce": pending.nonce,
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
            "auth_time": now,
            "sid": sid,
            "jti": secrets.token_urlsafe(12),
        }
        if isinstance(person, DemoPerson):
            claims["acr"] = person.acr or (
                pending.acr_values[-1] if pending.acr_values else self.acr_values[0]
            )
            claims["amr"] = ["TestID"]
            claims["locale"] = person.locale
            if person.pid:
                claims["pid"] = person.pid
        else:
            claims["name"] = person.name
            claims["roles"] = list(person.roles)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = _Code(
                pending.client_id, pending.redirect_uri, pending.challenge, claims, time.monotonic()
            )
            self.sessions.append({"sid": sid, "login_hint": hint})
        query = {"code": code, "state": pending.state, "iss": issuer}
        return redirect(f"{pending.redirect_uri}?{urlencode(query)}")  # type: ignore[return-value]

    def _token(self) -> Response:
        form = request.form
        client = self._authenticate_client()
        if client is None:
            return _oauth_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type")
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is not None:
                replay, code.used = code.used, True
        if code is None or replay or time.monotonic() - code.created > CODE_SECONDS:
            return _oauth_error("invalid_grant")
        if code.client_id != client.client_id or code.redirect_uri != form.get("redirect_uri"):
            return _oauth_error("invalid_grant")
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(digest, code.challenge):
            return _oauth_error("invalid_grant")
        claims = {**code.claims, **self.id_token_overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.keys[0]
        id_token = jwt.encode(
            {"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["RS256"]
        )
        response = jsonify(
            {
                "access_token": secrets.token_urlsafe(32),
                "token_type": "Bearer",
                "expires_in": 120,
                "id_token": id_token,
                "scope": "openid profile",
            }
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    def _authenticate_client(self) -> StandInClient | None:
        form = request.form
        assertion = form.get("client_assertion")
        if assertion:
            client = self.clients.get(form.get("client_id", ""))
            if client is None or client.jwks is None:
                return None
            if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
                return None
            try:
                token = jwt.decode(assertion, KeySet.import_key_set(client.jwks))  # type: ignore[arg-type]
            except (JoseError, ValueError):
                return None
            claims = token.claims
            now = int(time.time())
            issuer = self.issuer()
            aud = claims.get("aud")
            auds = aud if isinstance(aud, list) else [aud]
            ok = (
                claims.get("iss") == client.client_id
                and claims.get("sub") == client.client_id
                and (issuer in auds or f"{issuer}/token" in auds)
                and isinstance(claims.get("exp"), int)
                and isinstance(claims.get("iat"), int)
                and claims["exp"] > now - 5
                and claims["exp"] - claims["iat"] <= 120
                and isinstance(claims.get("jti"), str)
                and claims["jti"] not in self._jtis
            )
            if not ok:
                return None
            self._jtis.add(claims["jti"])
            return client
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username or ""
            secret = request.authorization.password or ""
        client = self.clients.get(client_id)
        if client is None or client.secret is None or not hmac.compare_digest(client.secret, secret):
            return None
        return client


StandInProvider._token._accepts = frozenset({"application/x-www-form-urlencoded"})  # type: ignore[attr-defined]


def pairwise_subject(client_id: str, hint: str) -> str:
    """The ``sub`` this provider gives ``hint`` at ``client_id`` (pairwise, like ID-porten)."""
    return base64.urlsafe_b64encode(hashlib.sha256(f"{client_id}|{hint}".encode()).digest()[:18]).decode()


def _oauth_error(error: str, status: int = 400) -> Response:
    response = jsonify({"error": error})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def new_rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": secrets.token_urlsafe(8)}, private=True)
