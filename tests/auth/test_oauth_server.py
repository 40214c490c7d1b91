"""Conformance of the app-facing OAuth server over real HTTP: RFC 6749 (code and refresh grants,
errors), RFC 7636 (PKCE S256), RFC 7009 (revocation), RFC 8414 (metadata) and RFC 9207 (``iss``)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa
from authlib.oauth2 import rfc8414, rfc9207

from engagement import clock
from engagement.auth.models import SessionFamily
from engagement.extensions import db
from tests.auth.live import APP_REDIRECT, STAFF_REDIRECT, pkce

pytestmark = pytest.mark.committing


def _error(response: requests.Response, status: int, error: str) -> dict:
    """An OAuth error (RFC 6749 §5.2) that is also a problem (RFC 9457) with a stable type."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["error"] == error and body["error_description"], body
    assert body["type"] == "urn:moba-engagement:problem:" + error.replace("_", "-")
    return body


def _authorize(live, **changes: str | None) -> requests.Response:
    _verifier, challenge = pkce()
    query: dict[str, str | None] = {
        "client_id": "moba-app",
        "redirect_uri": APP_REDIRECT,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s-1",
        **changes,
    }
    sent = {k: v for k, v in query.items() if v is not None}
    response = requests.get(f"{live.url}/auth/app/authorize", params=sent, allow_redirects=False, timeout=10)
    response.close()
    return response


def _redirected_error(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    assert response.headers["Location"].startswith(APP_REDIRECT + "?")
    return dict(parse_qsl(urlsplit(response.headers["Location"]).query))


def _live_families(live) -> int:
    with live.app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(SessionFamily).where(SessionFamily.revoked_at.is_(None))
        )


# --- the authorization request (RFC 6749 §4.1.1, §4.1.2.1; RFC 7636 §4.3, §4.4.1) -------------------


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # missing PKCE
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "x" * 42}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "unsupported_response_type"),
        ({"state": None}, "invalid_request"),
        ({"prompt": "none"}, "invalid_request"),
    ],
)
def test_authorization_request_errors_go_back_to_the_registered_redirect(live, changes, error):
    landed = _redirected_error(_authorize(live, **changes))
    assert landed["error"] == error and landed["error_description"]
    assert landed["iss"] == live.url  # RFC 9207 §2: error responses too
    if changes.get("state", "") is not None:
        assert landed["state"] == "s-1"


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"client_id": None}, 401),
        ({"client_id": "someone-else"}, 401),
        ({"redirect_uri": None}, 400),
        ({"redirect_uri": APP_REDIRECT + "x"}, 400),
        ({"redirect_uri": "https://evil.example/cb"}, 400),
    ],
)
def test_an_unknown_client_or_redirect_uri_is_never_redirected_to(live, changes, status):
    response = _authorize(live, **changes)
    assert response.status_code == status and "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_a_repeated_parameter_is_refused_without_a_redirect(live):
    _verifier, challenge = pkce()
    query = urlencode(
        [
            ("client_id", "moba-app"),
            ("redirect_uri", APP_REDIRECT),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "s"),
        ]
    )
    response = requests.get(f"{live.url}/auth/app/authorize?{query}", allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "Location" not in response.headers


def test_the_code_response_carries_code_state_and_iss(live):
    browser = live.browser()
    landed = browser.login("ola")
    assert set(landed) == {"code", "state", "iss"}
    assert landed["state"] == browser.state and landed["iss"] == live.url


# --- the token request: authorization_code (RFC 6749 §4.1.3, §5.2; RFC 7636 §4.5, §4.6) ------------


def test_a_wrong_verifier_is_invalid_grant(live):
    browser = live.browser()
    landed = browser.login("ola")
    other_verifier, _challenge = pkce()
    _error(browser.token(landed["code"], code_verifier=other_verifier), 400, "invalid_grant")


@pytest.mark.parametrize("verifier", ["", "short", "x" * 129, "ø" * 43])
def test_a_missing_or_malformed_verifier_is_invalid_request(live, verifier):
    browser = live.browser()
    landed = browser.login("ola")
    _error(browser.token(landed["code"], code_verifier=verifier), 400, "invalid_request")


def test_a_code_is_used_once_and_its_reuse_ends_the_session_it_opened(live):
    browser = live.browser()
    landed = browser.login("ola")
    first = browser.token(landed["code"])
    assert first.status_code == 200
    assert _live_families(live) == 1
    _error(browser.token(landed["code"]), 400, "invalid_grant")
    assert _live_families(live) == 0
    _error(browser.refresh(first.json()["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("redirect_uri", ["http://127.0.0.1/callback", APP_REDIRECT + "/", ""])
def test_a_redirect_uri_other_than_the_authorization_requests_is_invalid_grant(live, redirect_uri):
    browser = live.browser()
    landed = browser.login("ola")
    _error(browser.token(landed["code"], redirect_uri=redirect_uri), 400, "invalid_grant")


def test_a_code_for_another_client_unknown_or_expired_is_invalid_grant(live):
    browser = live.browser()
    landed = browser.login("ola")
    _error(browser.token(landed["code"], client_id="moba-staff-cli"), 400, "invalid_grant")
    _error(browser.token("not-a-code-this-server-issued"), 400, "invalid_grant")
    landed = browser.login("ola")
    with clock.frozen(clock.now() + timedelta(seconds=61)):
        _error(browser.token(landed["code"]), 400, "invalid_grant")


def test_client_authentication_failures_are_invalid_client(live):
    browser = live.browser()
    landed = browser.login("ola")
    _error(browser.token(landed["code"], client_id="nobody"), 401, "invalid_client")
    _error(browser.token(landed["code"], client_id=""), 401, "invalid_client")
    # a public client has no secret: sending one is not the auth method it is registered for
    _error(browser.token(landed["code"], client_secret="guess"), 401, "invalid_client")


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit", ""])
def test_an_unsupported_grant_type_is_refused(live, grant_type):
    form = {"grant_type": grant_type, "client_id": "moba-app", "username": "u", "password": "p"}
    _error(live.browser().post("/auth/app/token", form), 400, "unsupported_grant_type")


def test_a_missing_code_is_invalid_request(live):
    form = {"grant_type": "authorization_code", "client_id": "moba-app", "redirect_uri": APP_REDIRECT}
    _error(live.browser().post("/auth/app/token", form), 400, "invalid_request")


def test_token_responses_are_not_stored(live):
    browser = live.browser()
    ok = browser.token(browser.login("ola")["code"])
    assert ok.headers["Cache-Control"] == "no-store" and ok.headers["Pragma"] == "no-cache"
    assert set(ok.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}


# --- refresh (RFC 6749 §6, RFC 9700 §4.14.2) -----------------------------------------------------------


def test_each_refresh_rotates_and_a_rotated_token_coming_back_revokes_the_whole_family(live):
    browser = live.browser()
    tokens = [browser.tokens("ola")]
    for _ in range(3):
        response = browser.refresh(tokens[-1]["refresh_token"])
        assert response.status_code == 200, response.text
        tokens.append(response.json())
    assert len({t["refresh_token"] for t in tokens}) == 4
    assert browser.get("/v1/me", tokens[-1]["access_token"]).status_code == 200
    _error(browser.refresh(tokens[1]["refresh_token"]), 400, "invalid_grant")  # an old one comes back
    assert _live_families(live) == 0
    _error(browser.refresh(tokens[-1]["refresh_token"]), 400, "invalid_grant")
    assert browser.get("/v1/me", tokens[-1]["access_token"]).status_code == 401


def test_a_refresh_token_is_bound_to_its_client_and_unknown_ones_are_invalid_grant(live):
    browser = live.browser()
    tokens = browser.tokens("ola")
    _error(browser.refresh(tokens["refresh_token"], client_id="moba-staff-cli"), 400, "invalid_grant")
    _error(browser.refresh("never-issued"), 400, "invalid_grant")
    assert browser.refresh(tokens["refresh_token"]).status_code == 200  # the refusals used nothing up


def test_a_missing_refresh_token_is_invalid_request(live):
    form = {"grant_type": "refresh_token", "client_id": "moba-app"}
    _error(live.browser().post("/auth/app/token", form), 400, "invalid_request")


# --- revocation (RFC 7009) -------------------------------------------------------------------------------


def _revoke(live, token: str, **extra: str) -> requests.Response:
    return live.browser().post("/auth/app/revoke", {"token": token, "client_id": "moba-app", **extra})


@pytest.mark.parametrize("hint", [None, "refresh_token", "access_token"])
def test_revoking_a_refresh_token_ends_its_session(live, hint):
    browser = live.browser()
    tokens = browser.tokens("ola")
    response = _revoke(live, tokens["refresh_token"], **({"token_type_hint": hint} if hint else {}))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert browser.get("/v1/me", tokens["access_token"]).status_code == 401
    _error(browser.refresh(tokens["refresh_token"]), 400, "invalid_grant")


def test_revoking_an_access_token_ends_its_session(live):
    browser = live.browser()
    tokens = browser.tokens("ola")
    assert _revoke(live, tokens["access_token"], token_type_hint="access_token").status_code == 200
    _error(browser.refresh(tokens["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("token", ["unknown", "a.b.c", "x" * 500])
def test_revoking_an_unknown_token_is_answered_200(live, token):
    browser = live.browser()
    tokens = browser.tokens("ola")
    assert _revoke(live, token).status_code == 200  # RFC 7009 §2.2
    assert browser.get("/v1/me", tokens["access_token"]).status_code == 200


def test_revocation_errors(live):
    browser = live.browser()
    tokens = browser.tokens("ola")
    _error(live.browser().post("/auth/app/revoke", {"client_id": "moba-app"}), 400, "invalid_request")
    _error(_revoke(live, tokens["refresh_token"], token_type_hint="id_token"), 400, "unsupported_token_type")
    other = live.browser().post(
        "/auth/app/revoke", {"token": tokens["refresh_token"], "client_id": "moba-staff-cli"}
    )
    _error(other, 400, "invalid_grant")  # not this client's token: refused, and nothing revoked
    _error(
        live.browser().post("/auth/app/revoke", {"token": tokens["refresh_token"], "client_id": "x"}),
        401,
        "invalid_client",
    )
    assert browser.get("/v1/me", tokens["access_token"]).status_code == 200


def test_revocation_of_a_staff_token_needs_the_staff_client(live):
    staff = live.browser(client_id="moba-staff-cli", redirect_uri=STAFF_REDIRECT)
    tokens = staff.tokens("coordinator")
    form = {"token": tokens["refresh_token"], "client_id": "moba-staff-cli"}
    assert live.browser().post("/auth/app/revoke", form).status_code == 200
    assert staff.get("/v1/staff/me", tokens["access_token"]).status_code == 401


# --- metadata (RFC 8414, RFC 9207) -------------------------------------------------------------------------


def test_metadata_is_valid_and_names_every_endpoint(live):
    body = requests.get(f"{live.url}/.well-known/oauth-authorization-server", timeout=10).json()
    rfc8414.AuthorizationServerMetadata(body).validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
    assert body["issuer"] == live.url
    for name, path in [
        ("authorization_endpoint", "/auth/app/authorize"),
        ("token_endpoint", "/auth/app/token"),
        ("revocation_endpoint", "/auth/app/revoke"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ]:
        assert body[name] == live.url + path
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert body["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert body["token_endpoint_auth_methods_supported"] == ["none"]
    assert body["authorization_response_iss_parameter_supported"] is True
