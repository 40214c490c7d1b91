"""Edges of the login over real HTTP: odd ``auth_time`` values from the provider, and staff loopback
redirect URIs that a URL parser would tidy up (RFC 8252 §7.3: only the port may differ)."""

from __future__ import annotations

import time

import pytest
import requests
import sqlalchemy as sa

from engagement.auth.models import AppAuthorizationCode, LoginTransaction, SessionFamily
from engagement.extensions import db
from tests.auth.live import pkce

pytestmark = pytest.mark.committing


def _counts(live) -> tuple[int, int, int]:
    with live.app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (LoginTransaction, SessionFamily, AppAuthorizationCode)
        )


# --- auth_time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth_time",
    [
        pytest.param(10**20, id="beyond-any-date"),
        pytest.param(-(10**20), id="far-before-any-date"),
        pytest.param("1700000000", id="string"),
        pytest.param(1.7e9, id="float"),
        pytest.param(True, id="boolean"),
        pytest.param(lambda now: now + 3600, id="an-hour-ahead"),
        pytest.param(lambda now: now - 13 * 3600, id="before-iat-minus-the-session-limit"),
    ],
)
def test_an_auth_time_that_makes_no_sense_ends_in_the_login_failure_redirect(live, auth_time):
    value = auth_time(int(time.time())) if callable(auth_time) else auth_time
    live.idporten.id_token_overrides["auth_time"] = value
    browser = live.browser()
    landed = browser.login("ola")
    assert landed["error"] == "access_denied" and landed["error_description"] == "login_failed"
    assert landed["state"] == browser.state and "code" not in landed
    assert _counts(live)[1:] == (0, 0)


def test_an_auth_time_within_the_leeway_and_the_session_limit_is_kept(live):
    now = int(time.time())
    live.idporten.id_token_overrides["auth_time"] = now - 11 * 3600  # an SSO session of the morning
    assert "code" in live.browser().login("ola")
    live.idporten.id_token_overrides["auth_time"] = now + 20  # a provider clock a little ahead
    assert "code" in live.browser().login("ola")
    with live.app.app_context():
        stored = sorted(int(f.auth_time.timestamp()) for f in db.session.scalars(sa.select(SessionFamily)))
    assert stored == [now - 11 * 3600, now + 20]


# --- staff loopback redirect URIs --------------------------------------------------------------------


def _authorize_staff(live, redirect_uri: str) -> requests.Response:
    _verifier, challenge = pkce()
    query = {
        "client_id": "moba-staff-cli",
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s",
    }
    response = requests.get(f"{live.url}/auth/app/authorize", params=query, allow_redirects=False, timeout=10)
    response.close()
    return response


@pytest.mark.parametrize(
    "redirect_uri",
    [
        pytest.param("http://127.0.0.1:8765/call\tback", id="tab"),
        pytest.param("http://127.0.0.1:8765/callback\n", id="newline-at-the-end"),
        pytest.param("http://127.0.0.1:8765/call\r\nback", id="crlf"),
        pytest.param("http://127.0.0.1:87\t65/callback", id="tab-in-the-port"),
        pytest.param("http://127.0.0.1:8765/callback?", id="empty-query"),
        pytest.param("http://127.0.0.1:8765/callback#", id="empty-fragment"),
        pytest.param("http://127.0.0.1:8765/callback#x", id="fragment"),
        pytest.param("http://127.0.0.1:8765/callback?x=1", id="query"),
        pytest.param("http://127.0.0.1:08765/callback", id="port-with-a-leading-zero"),
        pytest.param("http://127.0.0.1:65536/callback", id="port-out-of-range"),
        pytest.param("http://127.0.0.1:/callback", id="empty-port"),
        pytest.param("http://127.0.0.1:8765@evil.example/callback", id="userinfo"),
        pytest.param("HTTP://127.0.0.1:8765/callback", id="other-case-scheme"),
        pytest.param("http://127.0.0.1:8765/Callback", id="other-case-path"),
        pytest.param("http://127.0.0.1:8765/callback/", id="trailing-slash"),
        pytest.param("http://localhost:8765/callback", id="other-loopback-name"),
    ],
)
def test_a_staff_loopback_redirect_that_is_not_the_registered_one_plus_a_port_is_refused(live, redirect_uri):
    response = _authorize_staff(live, redirect_uri)
    assert response.status_code == 400 and "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert _counts(live) == (0, 0, 0)  # no login, session or code before the redirect is accepted


@pytest.mark.parametrize("port", ["1", "8765", "65535"])
def test_a_staff_loopback_redirect_with_only_the_port_added_is_accepted(live, port):
    response = _authorize_staff(live, f"http://127.0.0.1:{port}/callback")
    assert response.status_code == 302 and response.headers["Location"].startswith(live.idporten_issuer[:-9])
    assert _counts(live) == (1, 0, 0)
