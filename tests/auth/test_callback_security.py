"""Checklist A and B over real HTTP: state bound to the browser and single use, RFC 9207 iss, exact
redirect URIs, PKCE S256 only, private_key_jwt, upstream key rotation."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey

from tests.auth.live import APP_REDIRECT, pkce

pytestmark = pytest.mark.committing


def _to_callback(browser, person="ola"):
    """Run the login until the provider redirects to the backend's callback; return that URL."""
    return (
        browser.follow(browser_authorize(browser), person, stop_at=lambda u: "/auth/idporten/callback?" in u)
        and browser.landed
    )


def browser_authorize(browser):
    browser.verifier, challenge = pkce()
    browser.state = "st-1"
    query = {
        "client_id": "moba-app",
        "redirect_uri": APP_REDIRECT,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": browser.state,
    }
    return f"{browser.base}/auth/app/authorize?{urlencode(query)}"


def _get(browser, url, **kw):
    response = browser.session.get(url, allow_redirects=False, timeout=10, **kw)
    response.close()
    return response


def _unused_codes(live):
    return [c for c in live.idporten._codes.values() if not c.used]


def test_callback_from_another_browser_is_refused_before_any_token_request(live):
    browser = live.browser()
    callback = _to_callback(browser)
    stranger = requests.get(callback, allow_redirects=False, timeout=10)
    assert stranger.status_code == 400 and "login-not-found" in stranger.json()["type"]
    assert len(_unused_codes(live)) == 1  # the code was never exchanged
    # nor did the stranger use the login up: the right browser still finishes it
    assert _get(browser, callback).status_code == 302


@pytest.mark.parametrize("change", [{"state": "made-up"}, {"state": None}])
def test_unknown_or_missing_state_is_refused(live, change):
    browser = live.browser()
    callback = _to_callback(browser)
    query = dict(parse_qsl(urlsplit(callback).query))
    for key, value in change.items():
        if value is None:
            query.pop(key)
        else:
            query[key] = value
    url = callback.split("?")[0] + "?" + urlencode(query)
    response = _get(browser, url)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert len(_unused_codes(live)) == 1


def test_replayed_callback_is_refused(live):
    browser = live.browser()
    callback = _to_callback(browser)
    assert _get(browser, callback).status_code == 302
    assert _get(browser, callback).status_code == 400


@pytest.mark.parametrize("iss", [None, "https://evil.example"])
def test_missing_or_wrong_iss_is_refused_before_the_code_exchange(live, iss):
    browser = live.browser()
    callback = _to_callback(browser)
    query = dict(parse_qsl(urlsplit(callback).query))
    if iss is None:
        query.pop("iss")
    else:
        query["iss"] = iss
    response = _get(browser, callback.split("?")[0] + "?" + urlencode(query))
    assert response.status_code == 302
    landed = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert landed["error"] == "access_denied" and landed["error_description"] == "issuer_mismatch"
    assert len(_unused_codes(live)) == 1


@pytest.mark.parametrize(
    "override",
    [
        {"aud": ["backend", "someone-else"]},
        {"nonce": "other"},
        {"iss": "https://evil.example"},
        {"acr": None},
        {"acr": "eidas-loa-high"},
        {"acr": "selfregistered-email"},
        {"sid": None},
    ],
)
def test_id_token_with_bad_claims_ends_the_login(live, override):
    live.idporten.id_token_overrides.update(override)
    landed = live.browser().login("ola")
    assert landed["error"] == "access_denied" and "code" not in landed
    assert landed["error_description"] in ("login_failed", "acr_too_low")


@pytest.mark.parametrize(
    "redirect_uri",
    [
        APP_REDIRECT + "/extra",
        APP_REDIRECT + "?x=1",
        "no.moba.engagement:/oauth",
        "https://evil.example/oauth/callback",
        "https://no.moba.engagement@evil.example/",
        "http://127.0.0.1:9999/callback",  # loopback on any port is for staff clients only
    ],
)
def test_inexact_redirect_uri_gets_an_error_page_and_no_redirect(live, redirect_uri):
    _v, challenge = pkce()
    query = {
        "client_id": "moba-app",
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
    }
    response = requests.get(f"{live.url}/auth/app/authorize", params=query, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "Location" not in response.headers


def test_unknown_client_gets_an_error_page(live):
    response = requests.get(
        f"{live.url}/auth/app/authorize",
        params={"client_id": "evil", "redirect_uri": APP_REDIRECT},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 401 and "Location" not in response.headers


@pytest.mark.parametrize(
    "change",
    [
        {"code_challenge": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"code_challenge": "short"},
        {"response_type": "token"},
        {"state": None},
    ],
)
def test_missing_or_plain_pkce_is_sent_back_as_invalid_request(live, change):
    _v, challenge = pkce()
    query = {
        "client_id": "moba-app",
        "redirect_uri": APP_REDIRECT,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
    }
    for key, value in change.items():
        if value is None:
            query.pop(key)
        else:
            query[key] = value
    response = requests.get(f"{live.url}/auth/app/authorize", params=query, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(APP_REDIRECT + "?")
    landed = dict(parse_qsl(urlsplit(location).query))
    assert landed["error"] in ("invalid_request", "unsupported_response_type")
    assert landed["iss"] == live.url


def test_staff_loopback_redirect_on_any_port_is_accepted(live):
    browser = live.browser(client_id="moba-staff-cli", redirect_uri="http://127.0.0.1:54321/callback")
    assert "code" in browser.login("admin")


def test_provider_refuses_a_request_without_pkce(live):
    """The stand-in, like ID-porten, requires PKCE, so a forgotten challenge cannot pass unnoticed."""
    query = {
        "client_id": "backend",
        "redirect_uri": f"{live.url}/auth/idporten/callback",
        "response_type": "code",
        "scope": "openid",
        "state": "s",
        "nonce": "n",
        "login_hint": "ola",
    }
    response = requests.get(
        f"{live.idporten_issuer}/authorize", params=query, allow_redirects=False, timeout=10
    )
    assert "error=invalid_request" in response.headers["Location"]


def test_private_key_jwt_client_authentication(live, tmp_path):
    key = RSAKey.generate_key(2048, {"kid": "backend-key-1"}, private=True)
    path = tmp_path / "client.jwk"
    path.write_text(json.dumps(key.as_dict(private=True)))
    client = live.idporten.clients["backend"]
    saved = (client.secret, client.jwks, live.app.config["IDPORTEN_CLIENT_SECRET"])
    client.secret, client.jwks = None, {"keys": [key.as_dict(private=False)]}
    live.app.config.update(IDPORTEN_CLIENT_SECRET=None, IDPORTEN_CLIENT_KEY=str(path))
    live.app.extensions.pop("engagement.upstreams", None)
    try:
        assert "code" in live.browser().login("ola")
        # the wrong key is refused by the provider (invalid_client), and the login fails closed
        client.jwks = {"keys": [RSAKey.generate_key(2048, {"kid": "backend-key-1"}).as_dict(private=False)]}
        landed = live.browser().login("ola")
        assert landed["error"] == "access_denied"
    finally:
        client.secret, client.jwks = saved[0], saved[1]
        live.app.config.update(IDPORTEN_CLIENT_SECRET=saved[2], IDPORTEN_CLIENT_KEY=None)
        live.app.extensions.pop("engagement.upstreams", None)


def test_client_assertion_is_short_lived_with_fresh_jti(app):
    from joserfc import jwt

    from engagement.auth.oidc import Upstream

    key = RSAKey.generate_key(2048, {"kid": "k1"}, private=True)
    upstream = Upstream("idporten", "https://idporten.example", "client-1", client_key=key)
    with app.app_context():
        a, b = (jwt.decode(upstream.client_assertion(), key) for _ in range(2))
    assert a.claims["iss"] == a.claims["sub"] == "client-1" and a.claims["aud"] == "https://idporten.example"
    assert a.claims["exp"] - a.claims["iat"] <= 120 and a.header["kid"] == "k1"
    assert a.claims["jti"] != b.claims["jti"]


def test_upstream_key_rotation_is_picked_up_with_one_reload(live):
    assert "code" in live.browser().login("ola")
    live.idporten.rotate_keys(keep_old=False)
    upstream = live.app.extensions["engagement.upstreams"]["idporten"]
    upstream._last_forced_reload = -1e9
    assert "code" in live.browser().login("ola")
