"""Staff roles follow the staff record, not the login: the record is updated from the provider at
every login, every refresh reads it, and a staff user with no role left is logged out everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt

from engagement.auth import sessions
from engagement.auth.models import SessionFamily, StaffUser
from engagement.dev.identities import DemoStaff
from engagement.extensions import db
from tests.auth.live import STAFF_REDIRECT

pytestmark = pytest.mark.committing


@pytest.fixture
def cora(live) -> Iterator[None]:
    """The coordinator, whose entry at the provider a test may change; put back afterwards."""
    saved = live.staff.people["coordinator"]
    yield
    live.staff.people["coordinator"] = saved


def _staff(live):
    return live.browser(client_id="moba-staff-cli", redirect_uri=STAFF_REDIRECT)


def _roles(live, access_token: str) -> list[str]:
    keys = live.app.extensions["engagement.token_keys"].verifying
    return list(jwt.decode(access_token, keys).claims.get("roles", []))


def _record(live) -> StaffUser:
    with live.app.app_context():
        return db.session.scalars(sa.select(StaffUser)).one()


def test_a_login_updates_the_record_and_a_refresh_carries_its_roles_now(live, cora):
    first = _staff(live).tokens("coordinator")
    assert _roles(live, first["access_token"]) == ["coordinator"]
    live.staff.people["coordinator"] = DemoStaff(
        "coordinator", "Cora Koordinator", ("coordinator", "researcher")
    )
    _staff(live).tokens("coordinator")  # a login elsewhere, with the provider's new claims
    record = _record(live)
    assert record.name == "Cora Koordinator" and sorted(record.roles) == ["coordinator", "researcher"]
    refreshed = _staff(live).refresh(first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    assert _roles(live, refreshed.json()["access_token"]) == ["coordinator", "researcher"]


def test_a_role_taken_away_in_the_record_is_gone_at_the_next_refresh(live, cora):
    browser = _staff(live)
    tokens = browser.tokens("admin")
    assert _roles(live, tokens["access_token"]) == ["admin", "coordinator"]
    with live.app.app_context():
        db.session.execute(sa.update(StaffUser).values(roles=["coordinator"]))
        db.session.commit()
    refreshed = browser.refresh(tokens["refresh_token"]).json()
    assert _roles(live, refreshed["access_token"]) == ["coordinator"]
    roster = requests.post(
        f"{live.url}/v1/admin/research-projects",
        json={},
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
        timeout=10,
    )
    assert roster.status_code == 403  # admin only


def test_a_staff_user_with_no_role_left_is_logged_out_and_refresh_says_why(live, cora):
    browser = _staff(live)
    phone, laptop = browser.tokens("coordinator"), browser.tokens("coordinator")
    with live.app.app_context():
        db.session.execute(sa.update(StaffUser).values(roles=[]))
        db.session.commit()
    refused = browser.refresh(phone["refresh_token"])
    assert refused.status_code == 400 and refused.headers["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert body["error"] == "invalid_grant" and "no role" in body["error_description"]
    for tokens in (phone, laptop):  # every session of theirs ended, not only the one refreshed
        assert browser.get("/v1/staff/me", tokens["access_token"]).status_code == 401
        assert browser.refresh(tokens["refresh_token"]).status_code == 400
    with live.app.app_context():
        reasons = set(db.session.scalars(sa.select(SessionFamily.revoked_reason)))
    assert reasons == {"no_role"}


def test_a_login_without_roles_empties_the_record_and_ends_the_other_sessions(live, cora):
    browser = _staff(live)
    earlier = browser.tokens("coordinator")
    live.staff.people["coordinator"] = DemoStaff("coordinator", "Cora Coordinator", ("janitor",))
    landed = _staff(live).login("coordinator")
    assert landed["error"] == "access_denied" and landed["error_description"] == "not_staff"
    assert _record(live).roles == []
    assert browser.get("/v1/staff/me", earlier["access_token"]).status_code == 401
    refused = browser.refresh(earlier["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_staff_roles_now_reads_the_record(live):
    _staff(live).tokens("admin")
    record = _record(live)
    with live.app.app_context():
        assert sessions.staff_roles(record.id) == {"admin", "coordinator"}
        db.session.execute(sa.update(StaffUser).values(roles=["researcher", "janitor"]))
        assert sessions.staff_roles(record.id) == {"researcher"}
        db.session.rollback()
        assert sessions.staff_roles(uuid.UUID(int=1)) == frozenset()


def test_delete_staff_sessions_ends_every_session_of_that_staff_user_only(live):
    browser = _staff(live)
    mine, also_mine, theirs = (
        browser.tokens("coordinator"),
        browser.tokens("coordinator"),
        browser.tokens("admin"),
    )
    participant = live.browser().tokens("ola")
    refused = requests.delete(
        f"{live.url}/v1/staff/me/sessions",
        headers={"Authorization": f"Bearer {participant['access_token']}"},
        timeout=10,
    )
    assert refused.status_code == 403
    deleted = requests.delete(
        f"{live.url}/v1/staff/me/sessions",
        headers={"Authorization": f"Bearer {mine['access_token']}"},
        timeout=10,
    )
    assert deleted.status_code == 204
    for tokens in (mine, also_mine):
        assert browser.get("/v1/staff/me", tokens["access_token"]).status_code == 401
        assert browser.refresh(tokens["refresh_token"]).status_code == 400
    assert browser.get("/v1/staff/me", theirs["access_token"]).status_code == 200
    assert live.browser().get("/v1/me", participant["access_token"]).status_code == 200
