"""The console's browser session over real HTTP: sign-in through the staff provider, the cookie, CSRF,
security headers, participants kept out, logout, "end all my sessions", roles re-read at every request,
idle timeout and absolute lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from engagement import clock
from engagement.auth.models import SessionFamily
from engagement.extensions import db
from tests.console.helpers import csrf_token, family_of, http_sign_in, staff_user

pytestmark = pytest.mark.committing


def _get(session: requests.Session, url: str) -> requests.Response:
    response = session.get(url, allow_redirects=False, timeout=10)
    response.close()
    return response


def test_sign_in_opens_a_console_session_family_with_the_staff_users_roles(console_live):
    session = http_sign_in(console_live.url, "coordinator")
    cookie = next(c for c in session.cookies if c.name == "engagement_console")
    assert cookie.path == "/console" and cookie.has_nonstandard_attr("HttpOnly")
    assert _get(session, console_live.url + "/console").status_code == 200
    with console_live.app.app_context():
        family = family_of(session)
        assert (family.client_id, family.kind, family.roles) == ("console", "staff", ["coordinator"])
        assert family.revoked_at is None and family.absolute_expires_at > clock.now()
        assert len(cookie.value) >= 43 and cookie.value not in repr(db.session.execute(sa.text(
            "SELECT * FROM console_session")).all())  # fmt: skip


def test_a_person_without_a_staff_role_is_not_signed_in(console_live):
    session = http_sign_in(console_live.url, "nobody")
    assert "error=not_staff" in session.landed
    assert "engagement_console" not in session.cookies
    assert _get(session, console_live.url + "/console").status_code == 303


def test_signed_out_pages_send_the_browser_to_sign_in_and_come_back(console_live):
    response = _get(requests.Session(), console_live.url + "/console?x=1")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/console/login?next=")


def test_console_pages_carry_a_strict_csp_no_store_and_no_framing(console_live):
    session = http_sign_in(console_live.url, "coordinator")
    for path in ("/console", "/console/login"):
        response = session.get(console_live.url + path, timeout=10)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.text and " onclick=" not in response.text


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(console_live):
    session = http_sign_in(console_live.url, "coordinator")
    response = session.post(console_live.url + "/console/logout", data={}, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "urn:moba-engagement:problem:csrf-token-invalid"
    assert _get(session, console_live.url + "/console").status_code == 200  # still signed in
    forged = session.post(
        console_live.url + "/console/logout", data={"csrf_token": "forged"}, allow_redirects=False, timeout=10
    )
    assert forged.status_code == 400


def test_participant_tokens_get_403_on_every_console_path(console_live, make_participant, login_as):
    headers = login_as(make_participant())
    for rule in console_live.app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint == "console.static" or "<" in rule.rule:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = requests.request(
                method, console_live.url + rule.rule, headers=headers, allow_redirects=False, timeout=10
            )
            if method == "GET":
                assert response.status_code == 403, (method, rule.rule)
                assert response.headers["Content-Type"] == "application/problem+json"
            else:  # refused before anything else: no CSRF token either
                assert response.status_code in (400, 403), (method, rule.rule)


def test_logout_ends_the_session(console_live):
    session = http_sign_in(console_live.url, "coordinator")
    token = csrf_token(session, console_live.url)
    secret = session.cookies.get("engagement_console")
    with console_live.app.app_context():
        family_id = family_of(session).id
    response = session.post(
        console_live.url + "/console/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 303 and "ended=1" in response.headers["Location"]
    with console_live.app.app_context():
        family = db.session.get(SessionFamily, family_id)
        assert family.revoked_at is not None and family.revoked_reason == "logout"
    # the old cookie no longer opens anything, even if the browser kept it
    assert "engagement_console" not in session.cookies
    stale = requests.Session()
    stale.cookies.set("engagement_console", secret, path="/console")
    assert _get(stale, console_live.url + "/console").status_code == 303


def test_ending_all_my_sessions_ends_the_apis_too(console_live, login_as):
    session = http_sign_in(console_live.url, "admin")
    with console_live.app.app_context():
        staff_id = family_of(session).staff_user_id
    api = login_as(staff=("admin",), staff_id=staff_id)
    assert requests.get(console_live.url + "/v1/staff/me", headers=api, timeout=10).status_code == 200
    token = csrf_token(session, console_live.url)
    response = session.post(
        console_live.url + "/console/logout/everywhere",
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303
    assert requests.get(console_live.url + "/v1/staff/me", headers=api, timeout=10).status_code == 401
    assert _get(session, console_live.url + "/console").status_code == 303


def test_roles_are_read_from_the_staff_table_at_every_request(console_live):
    session = http_sign_in(console_live.url, "admin")
    assert _get(session, console_live.url + "/console").status_code == 200
    with console_live.app.app_context():
        staff_user(family_of(session)).roles = ["researcher"]
        db.session.commit()
    assert _get(session, console_live.url + "/console").status_code == 200  # researchers see it too
    with console_live.app.app_context():
        family = family_of(session)
        staff_user(family).roles = []
        db.session.commit()
        family_id = family.id
    response = _get(session, console_live.url + "/console")
    assert response.status_code == 303 and response.headers["Location"].startswith("/console/login")
    with console_live.app.app_context():
        assert db.session.get(SessionFamily, family_id).revoked_reason == "no_role_left"


@pytest.mark.parametrize(
    ("field", "age"), [("last_used_at", timedelta(minutes=31)), ("absolute_expires_at", timedelta(0))]
)
def test_idle_timeout_and_absolute_lifetime_end_the_session(console_live, field, age):
    session = http_sign_in(console_live.url, "coordinator")
    with console_live.app.app_context():
        family = family_of(session)
        setattr(family, field, clock.now() - age)
        db.session.commit()
    response = _get(session, console_live.url + "/console")
    assert response.status_code == 303 and response.headers["Location"].startswith("/console/login")


def test_a_recent_session_stays_within_the_idle_timeout(console_live):
    session = http_sign_in(console_live.url, "coordinator")
    with console_live.app.app_context():
        family_of(session).last_used_at = clock.now() - timedelta(minutes=29)
        db.session.commit()
    assert _get(session, console_live.url + "/console").status_code == 200
    with console_live.app.app_context():
        assert family_of(session).last_used_at > clock.now() - timedelta(minutes=1)  # touched


def test_language_from_accept_language_then_the_remembered_choice(console_live):
    session = http_sign_in(console_live.url, "coordinator")
    english = session.get(console_live.url + "/console", headers={"Accept-Language": "en"}, timeout=10)
    assert "<h1>Overview</h1>" in english.text and 'lang="en"' in english.text
    norsk = session.get(console_live.url + "/console", headers={"Accept-Language": "nb-NO,nb"}, timeout=10)
    assert "<h1>Oversikt</h1>" in norsk.text
    chosen = session.get(console_live.url + "/console?lang=nb", headers={"Accept-Language": "en"}, timeout=10)
    assert "<h1>Oversikt</h1>" in chosen.text
    assert session.cookies.get("console_lang") == "nb"
    again = session.get(console_live.url + "/console", headers={"Accept-Language": "en"}, timeout=10)
    assert "<h1>Oversikt</h1>" in again.text
