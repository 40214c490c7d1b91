"""Withdrawal over HTTP: each scope and each effect, the receipt, re-joining, childhood-data requests."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.audit import AuditEvent
from engagement.consent import ledger, rules
from engagement.consent.documents import PARTICIPATION, QUESTIONNAIRES, REGISTRY_LINKAGE
from engagement.consent.models import DELETE_DATA, NO_CONTACT, ConsentLedgerViolation, ConsentWithdrawal
from engagement.extensions import db
from engagement.participants.services import coming_of_age
from engagement.withdrawal.models import WithdrawalReceipt
from tests.conftest import problem
from tests.consent.helpers import decide

EFFECTS = [
    "reminders_cancelled",
    "devices_removed",
    "open_tasks_cancelled",
    "answers_and_drafts_deleted",
    "listed_for_deletion_from_delivered_extracts",
    "left_out_of_future_extracts",
    "other_sessions_ended",
]


def withdraw(client, headers, scope, **extra):
    return client.post("/v1/me/withdrawal", json={"scope": scope, **extra}, headers=headers)


def _statuses(receipt):
    return {e["effect"]: e["status"] for e in receipt["effects"]}


@pytest.mark.parametrize(
    "scope, applies",
    [
        ("no_contact", {"reminders_cancelled", "devices_removed", "other_sessions_ended"}),
        (
            "no_new_data",
            {"reminders_cancelled", "devices_removed", "open_tasks_cancelled", "other_sessions_ended"},
        ),
        ("delete_data", set(EFFECTS)),
    ],
)
def test_each_scope_applies_its_effects_and_answers_with_a_receipt(
    client, make_participant, login_as, app, scope, applies
):
    person = make_participant()
    response = withdraw(client, login_as(person), scope)
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert receipt["scope"] == receipt["effective_scope"] == scope
    statuses = _statuses(receipt)
    assert list(statuses) == EFFECTS
    assert {e for e, s in statuses.items() if s != "not_applicable"} == applies
    with app.app_context():
        stored = db.session.scalar(
            sa.select(WithdrawalReceipt).where(WithdrawalReceipt.participant_id == person.id)
        )
        assert [e["effect"] for e in stored.effects] == EFFECTS
        (event,) = db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.action == "consent.withdrawn", AuditEvent.actor_id == str(person.id)
            )
        ).all()
        assert event.details["scope"] == scope


def test_the_withdrawal_takes_effect_in_the_one_question_at_once(client, make_participant, login_as, app):
    person = make_participant()
    withdraw(client, login_as(person), "no_new_data")
    with app.app_context():
        now = clock.now()
        assert not rules.may_use_data(person.id, QUESTIONNAIRES, now)
        assert rules.may_use_data(person.id, REGISTRY_LINKAGE, now)
        assert not rules.may_contact(person.id, now)
    state = client.get("/v1/me/consents", headers=login_as(person)).get_json()
    assert state["withdrawal"]["scope"] == "no_new_data"
    assert state["decision_required"] is False


def test_delete_data_leaves_the_person_out_of_extracts_of_earlier_data_even_after_rejoining(
    client, make_participant, login_as, app
):
    person = make_participant()
    withdraw(client, login_as(person), "delete_data")
    assert decide(client, login_as(person)).status_code == 201  # re-joins
    with app.app_context():
        now = clock.now()
        assert rules.may_use_data(person.id, QUESTIONNAIRES, now)
        assert not rules.may_export(person.id, PARTICIPATION, coming_of_age(person.birth_date), now)
    state = client.get("/v1/me/consents", headers=login_as(person)).get_json()
    assert state["withdrawal"] is None and state["decision_required"] is False


def test_an_unknown_scope_is_refused(client, make_participant, login_as):
    problem(withdraw(client, login_as(make_participant()), "forget_me"), 422, "validation-failed")


def test_staff_cannot_withdraw_someone(client, login_as):
    problem(withdraw(client, login_as(staff=("coordinator",)), "no_contact"), 403, "forbidden")


def test_childhood_deletion_can_only_be_asked_with_delete_data(client, make_participant, login_as, app):
    person = make_participant()
    body = problem(
        withdraw(client, login_as(person), "no_new_data", delete_childhood_data=True),
        422,
        "validation-failed",
    )
    assert "delete_childhood_data" in body["errors"]
    with app.app_context():
        assert ledger.withdrawals(person.id) == []  # nothing recorded


def test_childhood_deletion_is_recorded_for_coordinators_who_mark_it_done(
    client, make_participant, login_as, app
):
    person = make_participant()
    receipt = withdraw(client, login_as(person), "delete_data", delete_childhood_data=True).get_json()
    request_id = receipt["deletion_request"]["id"]
    assert receipt["deletion_request"]["status"] == "open"
    assert _statuses(receipt)["childhood_data_deletion_requested"] == "done"

    coordinator_id = uuid.uuid4()
    staff = login_as(staff=("coordinator",), staff_id=coordinator_id)
    (listed,) = [
        r
        for r in client.get("/v1/admin/deletion-requests", headers=staff).get_json()
        if r["id"] == request_id
    ]
    assert listed["cohort_person_id"] == person.cohort_person_id and listed["status"] == "open"

    done = client.post(
        f"/v1/admin/deletion-requests/{request_id}/done",
        json={"note": "slettet i MoBa-filene", "reference": "SAK-2026-0042"},
        headers=staff,
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "done" and done.get_json()["done_at"]
    problem(
        client.post(f"/v1/admin/deletion-requests/{request_id}/done", json={}, headers=staff),
        409,
        "deletion-request-done",
    )
    assert request_id not in [
        r["id"] for r in client.get("/v1/admin/deletion-requests", headers=staff).get_json()
    ]
    (all_done,) = [
        r
        for r in client.get("/v1/admin/deletion-requests?status=done", headers=staff).get_json()
        if r["id"] == request_id
    ]
    assert all_done["done_by"] == str(coordinator_id)
    assert (all_done["note"], all_done["reference"]) == ("slettet i MoBa-filene", "SAK-2026-0042")

    copy = client.get("/v1/me/data", headers=login_as(person)).get_json()
    assert [(r["id"], r["status"]) for r in copy["deletion_requests"]] == [(request_id, "done")]
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action)))
        assert {"withdrawal.deletion_requested", "withdrawal.deletion_done"} <= actions


def test_participants_cannot_see_deletion_requests(client, make_participant, login_as):
    problem(client.get("/v1/admin/deletion-requests", headers=login_as(make_participant())), 403)
    problem(
        client.post(
            f"/v1/admin/deletion-requests/{uuid.uuid4()}/done",
            json={},
            headers=login_as(staff=("coordinator",)),
        ),
        404,
    )


def test_withdrawals_are_never_changed_in_place(make_participant, app_ctx):
    person = make_participant()
    withdrawal = ledger.record_withdrawal(person.id, NO_CONTACT, clock.now(), ledger.Evidence())
    withdrawal.scope = DELETE_DATA
    with pytest.raises(ConsentLedgerViolation):
        db.session.flush()
    db.session.rollback()


def _refreshed(app, headers):
    """A new access token of the same session, as a refresh gives (the old one lives ten minutes)."""
    from joserfc import jwt

    from engagement.auth import sessions
    from engagement.auth.models import SessionFamily
    from engagement.security import issue_access_token

    keys = app.extensions["engagement.token_keys"].verifying
    sid = uuid.UUID(jwt.decode(headers["Authorization"].split()[1], keys).claims["sid"])
    with app.test_request_context():
        token = issue_access_token(sessions.principal_for(db.session.get(SessionFamily, sid)))
    return {"Authorization": f"Bearer {token}"}


def test_delete_data_needs_a_login_of_the_last_ten_minutes(client, make_participant, login_as, app):
    person = make_participant()
    start = clock.now()
    with clock.frozen(start):
        headers = login_as(person)
    with clock.frozen(start + timedelta(minutes=11)):
        headers = _refreshed(app, headers)  # the session's auth_time stays that of the login
        refused = withdraw(client, headers, "delete_data")
        body = problem(refused, 401, "recent-login-required")
        assert body["max_age"] == 600 and "max_age=600" in body["detail"]
        challenge = refused.headers["WWW-Authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge and 'max_age="600"' in challenge
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsentWithdrawal)) == 0
        assert withdraw(client, headers, "no_contact").status_code == 201  # only deletion asks
    with clock.frozen(start + timedelta(minutes=9, seconds=59)):
        assert withdraw(client, login_as(make_participant()), "delete_data").status_code == 201


def test_a_withdrawal_ends_the_other_sessions_and_the_receipt_says_how_many(
    client, make_participant, login_as, app
):
    person, someone_else = make_participant(), make_participant()
    mine, phone, tablet, theirs = (
        login_as(person),
        login_as(person),
        login_as(person),
        login_as(someone_else),
    )
    receipt = withdraw(client, mine, "no_contact").get_json()
    assert _statuses(receipt)["other_sessions_ended"] == "done"
    (ended,) = [e for e in receipt["effects"] if e["effect"] == "other_sessions_ended"]
    assert ended["count"] == 2
    assert client.get("/v1/me", headers=mine).status_code == 200  # the session that asked stays
    for headers in (phone, tablet):
        problem(client.get("/v1/me", headers=headers), 401)
    assert client.get("/v1/me", headers=theirs).status_code == 200
    again = withdraw(client, mine, "no_new_data").get_json()
    assert [e["count"] for e in again["effects"] if e["effect"] == "other_sessions_ended"] == [0]
