"""Re-authentication over real HTTP (checklist A15, A42): ``max_age`` reaches ID-porten, the callback
checks ``auth_time`` against it, and a withdrawal with deletion needs a login of the last 10 minutes."""

from __future__ import annotations

import time

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt

from engagement.auth.models import SessionFamily
from engagement.extensions import db

pytestmark = pytest.mark.committing


def _withdraw(live, access_token: str, scope: str = "delete_data") -> requests.Response:
    response = requests.post(
        f"{live.url}/v1/me/withdrawal",
        json={"scope": scope},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
    response.close()
    return response


def test_max_age_is_passed_on_to_idporten_and_the_access_token_carries_auth_time(live):
    browser = live.browser()
    tokens = browser.tokens("ola", max_age="0")
    assert live.idporten.requests[-1]["max_age"] == "0"
    claims = jwt.decode(tokens["access_token"], live.app.extensions["engagement.token_keys"].verifying).claims
    assert abs(claims["auth_time"] - time.time()) < 60
    browser.tokens("ola")
    assert "max_age" not in live.idporten.requests[-1]


def test_an_auth_time_older_than_max_age_ends_the_login(live):
    live.idporten.id_token_overrides["auth_time"] = int(time.time()) - 20 * 60  # an SSO session
    browser = live.browser()
    landed = browser.login("ola", max_age="600")
    assert landed["error"] == "access_denied" and landed["error_description"] == "login_too_old"
    assert landed["state"] == browser.state and "code" not in landed
    with live.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionFamily)) == 0
    assert "code" in live.browser().login("ola", max_age="1800")  # within that, it is fine


@pytest.mark.parametrize("max_age", ["abc", "-1", "1e3", "01", "99999999"])
def test_a_max_age_that_is_not_a_number_of_seconds_is_invalid_request(live, max_age):
    landed = live.browser().login("ola", max_age=max_age)
    assert landed["error"] == "invalid_request" and "max_age" in landed["error_description"]


def test_deletion_after_an_old_login_asks_for_a_new_one_and_then_ends_the_other_sessions(live):
    live.idporten.id_token_overrides["auth_time"] = int(time.time()) - 15 * 60  # logged in a while ago
    browser = live.browser()
    old = browser.tokens("ola")
    refused = _withdraw(live, old["access_token"])
    assert refused.status_code == 401 and refused.headers["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert body["type"] == "urn:moba-engagement:problem:recent-login-required" and body["max_age"] == 600
    assert 'error="insufficient_user_authentication"' in refused.headers["WWW-Authenticate"]
    assert browser.get("/v1/me", old["access_token"]).status_code == 200  # nothing else happened
    # the app logs in again with max_age, ID-porten authenticates afresh
    live.idporten.id_token_overrides.clear()
    fresh = browser.tokens("ola", max_age="600")
    assert live.idporten.requests[-1]["max_age"] == "600"
    done = _withdraw(live, fresh["access_token"])
    assert done.status_code == 201, done.text
    (ended,) = [e for e in done.json()["effects"] if e["effect"] == "other_sessions_ended"]
    assert ended == {"effect": "other_sessions_ended", "status": "done", "count": 1, "detail": None}
    assert browser.get("/v1/me", old["access_token"]).status_code == 401
    assert browser.refresh(old["refresh_token"]).status_code == 400
    assert browser.get("/v1/me", fresh["access_token"]).status_code == 200
