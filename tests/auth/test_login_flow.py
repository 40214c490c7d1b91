"""The whole login over real HTTP: app -> backend -> OpenID provider -> backend -> app -> tokens -> API."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt

from engagement import clock
from engagement.auth.models import AppAuthorizationCode, RefreshToken, SessionFamily
from engagement.extensions import db
from tests.auth.live import STAFF_REDIRECT, Browser

pytestmark = pytest.mark.committing


def _problem(response: requests.Response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    if error:
        assert body["error"] == error, body
    return body


def test_participant_goes_from_authorize_to_me(live):
    browser = live.browser()
    landed = browser.login("ola", ui_locales="nn en")
    assert set(landed) == {"code", "state", "iss"}
    assert landed["state"] == browser.state and landed["iss"] == live.url
    response = browser.token(landed["code"])
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    header = jwt.decode(body["access_token"], live.app.extensions["engagement.token_keys"].verifying).header
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    me = browser.get("/v1/me", body["access_token"])
    assert me.status_code == 200, me.text
    with live.app.app_context():
        family = db.session.scalars(sa.select(SessionFamily)).one()
        assert str(family.participant_id) == me.json()["id"]
        assert family.upstream_sid == live.idporten.sessions[-1]["sid"]
        assert family.acr == "idporten-loa-substantial" and family.auth_time is not None
        claims = jwt.decode(
            body["access_token"], live.app.extensions["engagement.token_keys"].verifying
        ).claims
        assert claims["sub"] == me.json()["id"] and claims["sid"] == str(family.id)


def test_upstream_request_has_pkce_state_nonce_and_minimum_acr(live):
    from urllib.parse import parse_qsl, urlsplit

    browser = live.browser()
    upstream_query: dict[str, str] = {}

    def stop(url: str) -> bool:
        if "/idporten/authorize?" in url:
            upstream_query.update(parse_qsl(urlsplit(url).query))
            return True
        return False

    url = (
        f"{live.url}/auth/app/authorize?client_id=moba-app&redirect_uri=no.moba.engagement:/oauth/callback"
        "&response_type=code&code_challenge="
        + "a" * 43
        + "&code_challenge_method=S256&state=s1&ui_locales=nn+xx&prompt=login"
    )
    browser.follow(url, None, stop_at=stop)
    q = upstream_query
    assert (
        q["response_type"] == "code"
        and q["code_challenge_method"] == "S256"
        and len(q["code_challenge"]) == 43
    )
    assert (
        q["acr_values"] == "idporten-loa-substantial" and q["ui_locales"] == "nn" and q["prompt"] == "login"
    )
    assert q["scope"] == "openid profile" and len(q["state"]) >= 43 and len(q["nonce"]) >= 43
    assert q["redirect_uri"] == f"{live.url}/auth/idporten/callback"
    first = dict(q)
    browser.follow(url, None, stop_at=stop)
    assert (
        q["state"] != first["state"]
        and q["nonce"] != first["nonce"]
        and q["code_challenge"] != first["code_challenge"]
    )


def test_coordinator_reaches_a_staff_endpoint_and_a_participant_token_does_not(live):
    staff = live.browser(client_id="moba-staff-cli", redirect_uri=STAFF_REDIRECT)
    body = staff.tokens("coordinator")
    me = staff.get("/v1/staff/me", body["access_token"])
    assert me.status_code == 200, me.text
    assert me.json()["roles"] == ["coordinator"]
    participant = live.browser().tokens("ola")
    for path in ("/v1/staff/me",):
        _problem(staff.get(path, participant["access_token"]), 403)
    roster = requests.post(
        f"{live.url}/v1/admin/roster",
        data=b"cohort_person_id,fodselsnummer,birth_date,language\n",
        headers={"Authorization": f"Bearer {participant['access_token']}", "Content-Type": "text/csv"},
        timeout=10,
    )
    _problem(roster, 403)
    # and a staff token is no participant token
    _problem(staff.get("/v1/me", body["access_token"]), 403)


def test_staff_without_a_known_role_is_refused(live):
    from engagement.dev.identities import DemoStaff

    live.staff.people["nobody"] = DemoStaff("nobody", "No Body", ("janitor",))
    try:
        landed = live.browser(client_id="moba-staff-cli", redirect_uri=STAFF_REDIRECT).login("nobody")
    finally:
        del live.staff.people["nobody"]
    assert landed["error"] == "access_denied" and landed["error_description"] == "not_staff"


@pytest.mark.parametrize(
    ("person", "description"),
    [
        ("minor", "under_18"),
        ("stranger", "not_a_participant"),
        ("eidas", "not_a_participant"),
        ("low", "acr_too_low"),
    ],
)
def test_login_refusals_reach_the_app_as_oauth_errors(live, person, description):
    browser = live.browser()
    landed = browser.login(person)
    assert landed["error"] == "access_denied" and landed["error_description"] == description
    assert landed["state"] == browser.state and landed["iss"] == live.url
    if description == "under_18":
        born = live.people["minor"].birth_date
        assert landed["join_date"] == born.replace(year=born.year + 18).isoformat()
    with live.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SessionFamily)) == 0


def test_cancelled_login_returns_access_denied(live):
    landed = live.browser().login("nobody-at-all")
    assert landed["error"] == "access_denied" and "code" not in landed


def test_refresh_rotates_and_reuse_revokes_the_whole_family(live):
    browser = live.browser()
    first = browser.tokens("ola")
    second = browser.refresh(first["refresh_token"])
    assert second.status_code == 200 and second.headers["Cache-Control"] == "no-store"
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert browser.get("/v1/me", rotated["access_token"]).status_code == 200
    reuse = browser.refresh(first["refresh_token"])
    _problem(reuse, 400, "invalid_grant")
    _problem(browser.get("/v1/me", rotated["access_token"]), 401)
    _problem(browser.refresh(rotated["refresh_token"]), 400, "invalid_grant")
    with live.app.app_context():
        family = db.session.scalars(sa.select(SessionFamily)).one()
        assert family.revoked_reason == "refresh_token_reuse"
        hashes = list(db.session.scalars(sa.select(RefreshToken.token_hash)))
        assert first["refresh_token"] not in hashes and len(hashes) == 2


def test_two_concurrent_refreshes_exactly_one_wins(live):
    browser = live.browser()
    tokens = browser.tokens("ola")
    barrier = threading.Barrier(2)
    results: list[int] = []

    def refresh() -> None:
        barrier.wait()
        results.append(browser.refresh(tokens["refresh_token"]).status_code)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(results) == [200, 400]


def test_refresh_token_is_bound_to_its_client(live):
    tokens = live.browser().tokens("ola")
    _problem(
        live.browser().refresh(tokens["refresh_token"], client_id="moba-staff-cli"), 400, "invalid_grant"
    )
    assert live.browser().refresh(tokens["refresh_token"]).status_code == 200


def test_idle_and_absolute_expiry_end_the_session(live):
    browser = live.browser()
    start = clock.now()
    with clock.frozen(start):
        tokens = browser.tokens("ola")
        clock.advance(timedelta(minutes=31))
        _problem(browser.refresh(tokens["refresh_token"]), 400, "invalid_grant")
    with clock.frozen(start):
        tokens = browser.tokens("ola")
        for _ in range(25):  # keep it busy every 29 minutes: the absolute limit still ends it
            clock.advance(timedelta(minutes=29))
            response = browser.refresh(tokens["refresh_token"])
            if response.status_code != 200:
                break
            tokens = response.json()
        assert clock.now() - start >= timedelta(hours=12) - timedelta(minutes=29)
        _problem(response, 400, "invalid_grant")
        _problem(browser.get("/v1/me", tokens["access_token"]), 401)


def test_code_is_single_use_and_a_replay_revokes_its_session(live):
    browser = live.browser()
    landed = browser.login("ola")
    first = browser.token(landed["code"])
    assert first.status_code == 200
    _problem(browser.token(landed["code"]), 400, "invalid_grant")
    _problem(browser.get("/v1/me", first.json()["access_token"]), 401)
    _problem(browser.refresh(first.json()["refresh_token"]), 400, "invalid_grant")


def test_code_needs_its_verifier_client_redirect_and_freshness(live):
    browser = live.browser()
    landed = browser.login("ola")
    _problem(browser.token(landed["code"], code_verifier="A" * 43), 400, "invalid_grant")
    landed = browser.login("ola")
    _problem(browser.token(landed["code"], redirect_uri="http://127.0.0.1/callback"), 400, "invalid_grant")
    landed = browser.login("ola")
    _problem(browser.token(landed["code"], client_id="moba-staff-cli"), 400, "invalid_grant")
    landed = browser.login("ola")
    _problem(browser.token(landed["code"], client_id="who"), 401, "invalid_client")
    landed = browser.login("ola")
    with clock.frozen(clock.now() + timedelta(seconds=61)):
        _problem(browser.token(landed["code"]), 400, "invalid_grant")
    _problem(
        browser.post("/auth/app/token", {"grant_type": "password", "client_id": "moba-app"}),
        400,
        "unsupported_grant_type",
    )
    with live.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RefreshToken)) == 0
        stored = set(db.session.scalars(sa.select(AppAuthorizationCode.code_hash)))
        assert landed["code"] not in stored


def test_logout_ends_the_session_at_once_and_is_idempotent(live):
    browser = live.browser()
    tokens = browser.tokens("ola")
    form = {"client_id": "moba-app", "refresh_token": tokens["refresh_token"]}
    assert browser.post("/auth/app/logout", form).status_code == 204
    _problem(browser.get("/v1/me", tokens["access_token"]), 401)
    _problem(browser.refresh(tokens["refresh_token"]), 400, "invalid_grant")
    assert browser.post("/auth/app/logout", form).status_code == 204
    other = browser.tokens("ola")
    by_bearer = browser.post(
        "/auth/app/logout", {}, headers={"Authorization": f"Bearer {other['access_token']}"}
    )
    assert by_bearer.status_code == 204
    _problem(browser.get("/v1/me", other["access_token"]), 401)


def test_frontchannel_logout_ends_sessions_of_that_idporten_session(live):
    browser = live.browser()
    tokens = browser.tokens("ola")
    sid = live.idporten.sessions[-1]["sid"]
    wrong = requests.get(
        f"{live.url}/auth/idporten/frontchannel-logout",
        params={"iss": "https://evil.example", "sid": sid},
        timeout=10,
    )
    assert wrong.status_code == 200
    assert browser.get("/v1/me", tokens["access_token"]).status_code == 200
    _problem(
        requests.get(
            f"{live.url}/auth/idporten/frontchannel-logout", params={"iss": live.idporten_issuer}, timeout=10
        ),
        400,
    )
    response = requests.get(  # no cookies: works from an iframe on the provider's page
        f"{live.url}/auth/idporten/frontchannel-logout",
        params={"iss": live.idporten_issuer, "sid": sid},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert f"frame-ancestors 'self' {live.idp_url}" in response.headers["Content-Security-Policy"]
    _problem(browser.get("/v1/me", tokens["access_token"]), 401)
    _problem(browser.refresh(tokens["refresh_token"]), 400, "invalid_grant")


def test_sessions_are_listed_and_logout_everywhere_ends_all(live):
    phone, tablet = live.browser(), live.browser()
    a, b = phone.tokens("ola"), tablet.tokens("ola")
    listed = phone.get("/v1/me/sessions", a["access_token"])
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2 and sorted(s["current"] for s in sessions) == [False, True]
    assert set(sessions[0]) == {
        "id",
        "client_id",
        "created_at",
        "last_used_at",
        "auth_time",
        "acr",
        "current",
    }
    deleted = requests.delete(
        f"{live.url}/v1/me/sessions", headers={"Authorization": f"Bearer {a['access_token']}"}, timeout=10
    )
    assert deleted.status_code == 204
    for token in (a["access_token"], b["access_token"]):
        _problem(phone.get("/v1/me", token), 401)


def test_each_login_opens_a_new_session(live):
    browser = live.browser()
    first, second = browser.tokens("ola"), browser.tokens("ola")
    sid = lambda t: jwt.decode(t, live.app.extensions["engagement.token_keys"].verifying).claims["sid"]  # noqa: E731
    assert sid(first["access_token"]) != sid(second["access_token"])


def test_access_token_only_in_the_authorization_header(live):
    tokens = live.browser().tokens("ola")
    _problem(
        requests.get(f"{live.url}/v1/me", params={"access_token": tokens["access_token"]}, timeout=10), 401
    )
    _problem(
        requests.get(f"{live.url}/v1/me", cookies={"access_token": tokens["access_token"]}, timeout=10), 401
    )


def test_jwks_endpoint_publishes_the_access_token_key(live):
    keys = requests.get(f"{live.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert keys[0]["kid"] == live.app.extensions["engagement.token_keys"].signing.kid and "d" not in keys[0]


def test_browser_helper_is_a_real_client():
    assert Browser("http://127.0.0.1:1").redirect_uri.startswith("no.moba")
