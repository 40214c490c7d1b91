"""The OpenID Connect client side: ID-porten and the staff provider, as this service talks to them.

Written on joserfc and requests rather than authlib's Flask client, so that each check the reference
lists is explicit here: discovery re-read at most daily with its ``issuer`` compared, JWKS cached with
at most one forced reload per minute for an unknown ``kid``, ``jku``/``x5u``/``jwk`` headers refused,
``iss``/``aud``/``azp``/``exp``/``iat``/``nonce`` checked with 30 s leeway, and ``private_key_jwt``
client assertions that live 60 s with a fresh ``jti``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import requests
from flask import Flask, current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from engagement import clock

UpstreamName = Literal["idporten", "staff"]
METADATA_TTL = 24 * 3600.0
JWKS_TTL = 3600.0
JWKS_FORCED_RELOAD_INTERVAL = 60.0
HTTP_TIMEOUT = 5.0
# After a failed discovery, logins fail at once for this long instead of each waiting out the timeout
# in turn behind the lock (a hanging provider would otherwise queue every login for N times the timeout).
RETRY_AFTER_FAILURE = 10.0
LEEWAY_SECONDS = 30
MAX_TOKEN_BYTES = 16_384
ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "PS256")
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk")


class UpstreamError(Exception):
    """The upstream provider or its answer cannot be trusted; the login fails closed."""


@dataclass
class Upstream:
    """One OpenID provider this service is a client of, with its cached metadata and keys."""

    name: UpstreamName
    issuer: str
    client_id: str
    client_secret: str | None = None
    client_key: RSAKey | ECKey | None = None
    require_https: bool = False
    _metadata: dict[str, Any] | None = None
    _metadata_loaded: float = 0.0
    _keys: KeySet | None = None
    _keys_loaded: float = 0.0
    _last_forced_reload: float = -1e9
    _failed_at: float = -1e9
    _failure: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- discovery and keys -----------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_loaded > METADATA_TTL:
                if time.monotonic() - self._failed_at < RETRY_AFTER_FAILURE:
                    if self._metadata is not None:
                        return self._metadata  # stale but still the provider's; better than no login
                    raise UpstreamError(f"{self._failure} (not asked again yet)")
                try:
                    fetched = self._fetch_metadata()
                except UpstreamError as exc:
                    self._failed_at, self._failure = time.monotonic(), str(exc)
                    if self._metadata is not None:
                        return self._metadata
                    raise
                self._metadata = fetched
                self._metadata_loaded = time.monotonic()
                self._failed_at = -1e9
                self._keys = None
            return self._metadata

    def _fetch_metadata(self) -> dict[str, Any]:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = _get_json(url)
        if data.get("issuer") != self.issuer:
            raise UpstreamError(f"{self.name}: discovery names another issuer than the one configured")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(name), str):
                raise UpstreamError(f"{self.name}: discovery lacks {name}")
            if self.require_https and not data[name].startswith("https://"):
                raise UpstreamError(f"{self.name}: {name} is not https")
        return data

    def keys(self, *, kid: str | None = None) -> KeySet:
        """The provider's public keys; an unknown ``kid`` reloads them at most once a minute."""
        metadata = self.metadata()
        with self._lock:
            now = time.monotonic()
            stale = self._keys is None or now - self._keys_loaded > JWKS_TTL
            unknown = kid is not None and self._keys is not None and not _has_kid(self._keys, kid)
            if stale or (unknown and now - self._last_forced_reload > JWKS_FORCED_RELOAD_INTERVAL):
                if unknown and not stale:
                    self._last_forced_reload = now
                self._keys = KeySet.import_key_set(cast(Any, _get_json(metadata["jwks_uri"])))
                self._keys_loaded = now
            assert self._keys is not None
            return self._keys

    # -- the authorization request and the code exchange ----------------------------------------

    def authorization_url(self, params: dict[str, str]) -> str:
        from urllib.parse import urlencode

        endpoint: str = self.metadata()["authorization_endpoint"]
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        metadata = self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_id": self.client_id,
        }
        if self.client_key is not None:
            form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            form["client_assertion"] = self.client_assertion()
        elif self.client_secret:
            form["client_secret"] = self.client_secret
        try:
            response = requests.post(
                metadata["token_endpoint"],
                data=form,
                headers={"Accept": "application/json"},
                timeout=HTTP_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise UpstreamError(f"{self.name}: token endpoint unreachable ({type(exc).__name__})") from None
        with response:
            if response.status_code != 200:
                error = _safe_error(response)
                raise UpstreamError(f"{self.name}: token endpoint answered {response.status_code} {error}")
            try:
                data: dict[str, Any] = response.json()
            except ValueError:
                raise UpstreamError(f"{self.name}: token endpoint answered no JSON") from None
        if not isinstance(data.get("id_token"), str):
            raise UpstreamError(f"{self.name}: token response has no ID token")
        return data

    def client_assertion(self) -> str:
        """An RFC 7523 client assertion: iss = sub = client_id, aud = issuer, 60 s, fresh jti, kid."""
        assert self.client_key is not None
        now = int(clock.now().timestamp())
        alg = "RS256" if isinstance(self.client_key, RSAKey) else "ES256"
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.issuer,
            "iat": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(24),
        }
        header = {"alg": alg, "kid": self.client_key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, self.client_key, algorithms=[alg])

    # -- the ID token ------------------------------------------------------------------------------

    def validate_id_token(self, token: str, *, nonce: str) -> dict[str, Any]:
        """The claims of a valid ID token from this provider for this client, or :class:`UpstreamError`."""
        if len(token) > MAX_TOKEN_BYTES:
            raise UpstreamError("ID token too large")
        try:
            header = _unverified_header(token)
        except ValueError as exc:
            raise UpstreamError("ID token malformed") from exc
        alg, kid = header.get("alg"), header.get("kid")
        allowed = set(self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"])
        if alg not in allowed or alg not in ID_TOKEN_ALGORITHMS:
            raise UpstreamError("ID token algorithm not accepted")
        if any(h in header for h in FORBIDDEN_HEADERS):
            raise UpstreamError("ID token names its own key; refused")
        if not isinstance(kid, str):
            raise UpstreamError("ID token has no kid")
        keys = self.keys(kid=kid)
        if not _has_kid(keys, kid):
            raise UpstreamError("ID token signed with an unknown key")
        try:
            decoded = jwt.decode(token, keys, algorithms=[alg])
        except (JoseError, ValueError) as exc:
            raise UpstreamError(f"ID token signature not valid ({type(exc).__name__})") from None
        claims: dict[str, Any] = dict(decoded.claims)
        now = int(clock.now().timestamp())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.metadata()["issuer"]},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise UpstreamError(f"ID token claims not valid ({exc.error})") from None
        aud = claims.get("aud")
        if aud != self.client_id and aud != [self.client_id]:
            raise UpstreamError("ID token audience is not (only) this client")
        if "azp" in claims and claims["azp"] != self.client_id:
            raise UpstreamError("ID token azp is not this client")
        if not isinstance(claims.get("iat"), int) or claims["iat"] > now + LEEWAY_SECONDS:
            raise UpstreamError("ID token issued in the future")
        return claims


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys)


def _unverified_header(token: str) -> dict[str, Any]:
    import base64

    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    padded = parts[0] + "=" * (-len(parts[0]) % 4)
    header = json.loads(base64.urlsafe_b64decode(padded))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    return header


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise UpstreamError(f"{url} unreachable ({type(exc).__name__})") from None
    with response:
        if response.status_code != 200:
            raise UpstreamError(f"{url} answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise UpstreamError(f"{url} answered no JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError(f"{url} answered no JSON object")
    return data


def _safe_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", ""))[:64] if isinstance(body, dict) else ""


def _load_key(path: str | None) -> RSAKey | ECKey | None:
    if not path:
        return None
    data = json.loads(Path(path).read_text())
    key = data["keys"][0] if "keys" in data else data
    if key.get("kty") == "RSA":
        return RSAKey.import_key(key)
    return ECKey.import_key(key)


def upstream(name: UpstreamName) -> Upstream:
    """The configured provider ``name`` of the running app (built once per app and issuer)."""
    app = current_app
    cache: dict[str, Upstream] = app.extensions.setdefault("engagement.upstreams", {})
    prefix = "IDPORTEN" if name == "idporten" else "STAFF"
    issuer: str = app.config.get(f"{prefix}_ISSUER") or _dev_issuer(app, name)
    client_id: str = app.config.get(f"{prefix}_CLIENT_ID") or f"engagement-{name}"
    current = cache.get(name)
    if current is None or current.issuer != issuer or current.client_id != client_id:
        current = Upstream(
            name=name,
            issuer=issuer,
            client_id=client_id,
            client_secret=app.config.get(f"{prefix}_CLIENT_SECRET") or _dev_secret(app, name),
            client_key=_load_key(app.config.get(f"{prefix}_CLIENT_KEY")),
            require_https=app.config["ENV"] == "production",
        )
        cache[name] = current
    return current


def _dev_issuer(app: Flask, name: UpstreamName) -> str:
    if app.config["ENV"] == "production":
        raise UpstreamError(f"no issuer configured for {name}")
    return str(app.config["PUBLIC_URL"]).rstrip("/") + f"/dev/{name}"


def _dev_secret(app: Flask, name: UpstreamName) -> str | None:
    if app.config["ENV"] == "production" or app.config.get(f"{name.upper()}_CLIENT_KEY"):
        return None
    return f"dev-secret-{name}"
