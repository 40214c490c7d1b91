"""The ID-token validator with joserfc-minted tokens: everything but a well-formed, fresh, own token fails."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from engagement import clock
from engagement.auth.oidc import Upstream, UpstreamError

ISSUER = "https://idporten.example"
KEY = RSAKey.generate_key(2048, {"kid": "k1"}, private=True)


@pytest.fixture
def upstream(app_ctx):
    up = Upstream("idporten", ISSUER, "client-1")
    up._metadata = {
        "issuer": ISSUER,
        "jwks_uri": "http://127.0.0.1:1/jwks",  # unreachable: any reload attempt fails closed
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    up._metadata_loaded = time.monotonic()
    up._keys = KeySet([KEY])
    up._keys_loaded = time.monotonic()
    up._last_forced_reload = time.monotonic()
    return up


def _claims(**changes):
    now = int(clock.now().timestamp())
    claims = {
        "iss": ISSUER,
        "aud": "client-1",
        "sub": "s",
        "nonce": "n1",
        "iat": now,
        "exp": now + 120,
        "acr": "idporten-loa-high",
        "sid": "sid1",
        "auth_time": now,
    }
    claims.update({k: v(now) if callable(v) else v for k, v in changes.items()})  # times: from now
    return {k: v for k, v in claims.items() if v is not None}


def _mint(claims=None, header=None, key=KEY, alg="RS256"):
    return jwt.encode({"alg": alg, "kid": "k1", **(header or {})}, claims or _claims(), key, algorithms=[alg])


def test_a_good_token_passes(upstream):
    assert upstream.validate_id_token(_mint(), nonce="n1")["sid"] == "sid1"


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "other"},
        {"aud": ["client-1", "other"]},
        {"azp": "other"},
        {"iss": "https://evil.example"},
        {"iss": None},
        {"nonce": "other"},
        {"nonce": None},
        {"exp": lambda now: now - 31},
        {"exp": None},
        {"iat": lambda now: now + 120},
        {"sub": None},
    ],
)
def test_bad_claims_are_refused(upstream, changes):
    with pytest.raises(UpstreamError):
        upstream.validate_id_token(_mint(_claims(**changes)), nonce="n1")


def test_foreign_key_with_the_same_kid_is_refused(upstream):
    other = RSAKey.generate_key(2048, {"kid": "k1"}, private=True)
    with pytest.raises(UpstreamError):
        upstream.validate_id_token(_mint(key=other), nonce="n1")


def test_unknown_kid_fails_closed_without_a_second_reload(upstream):
    other = RSAKey.generate_key(2048, {"kid": "k2"}, private=True)
    token = jwt.encode({"alg": "RS256", "kid": "k2"}, _claims(), other, algorithms=["RS256"])
    with pytest.raises(UpstreamError, match="unknown key"):
        upstream.validate_id_token(token, nonce="n1")


def _b64(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(upstream):
    token = f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(_claims())}."
    with pytest.raises(UpstreamError):
        upstream.validate_id_token(token, nonce="n1")


def test_hs256_keyed_with_the_public_key_is_refused(upstream):
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'k1'})}.{_b64(_claims())}"
    mac = hmac.new(KEY.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(UpstreamError, match="algorithm"):
        upstream.validate_id_token(token, nonce="n1")


def test_an_algorithm_the_provider_does_not_use_is_refused(upstream):
    ec = ECKey.generate_key("P-256", {"kid": "k1"}, private=True)
    with pytest.raises(UpstreamError, match="algorithm"):
        upstream.validate_id_token(_mint(key=ec, alg="ES256"), nonce="n1")


@pytest.mark.parametrize(
    "header",
    [{"jku": "https://evil.example/jwks"}, {"x5u": "https://evil.example/c"}, {"jwk": {"kty": "RSA"}}],
)
def test_key_carrying_headers_are_refused(upstream, header):
    with pytest.raises(UpstreamError, match="own key"):
        upstream.validate_id_token(_mint(header=header), nonce="n1")


@pytest.mark.parametrize("token", ["x" * 20_000, "not-a-jwt", "a.b.c", ""])
def test_oversized_or_malformed_tokens_are_refused(upstream, token):
    with pytest.raises(UpstreamError):
        upstream.validate_id_token(token, nonce="n1")


def test_discovery_naming_another_issuer_is_refused(app_ctx, monkeypatch):
    from engagement.auth import oidc

    monkeypatch.setattr(oidc, "_get_json", lambda url: {"issuer": "https://other.example", "jwks_uri": "x"})
    with pytest.raises(UpstreamError, match="another issuer"):
        Upstream("idporten", ISSUER, "client-1").metadata()


def test_http_endpoints_are_refused_in_production(app_ctx, monkeypatch):
    from engagement.auth import oidc

    monkeypatch.setattr(
        oidc,
        "_get_json",
        lambda url: {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/a",
            "token_endpoint": "http://idporten.example/token",
            "jwks_uri": f"{ISSUER}/j",
        },
    )
    with pytest.raises(UpstreamError, match="not https"):
        Upstream("idporten", ISSUER, "client-1", require_https=True).metadata()
