"""The decision ledger over HTTP: who may decide, what is recorded, what is refused, the history."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.audit import AuditEvent
from engagement.consent import rules
from engagement.consent.models import ConsentDecision, ConsentLedgerViolation
from engagement.extensions import db
from tests.conftest import problem
from tests.consent.helpers import decide, publish_version

# 00:30 on 15 June in Oslo (summer time) is still 14 June in UTC.
OSLO_MIDNIGHT_PAST = datetime(2026, 6, 14, 22, 30, tzinfo=UTC)


def _rows(participant_id):
    return db.session.scalars(
        sa.select(ConsentDecision).where(ConsentDecision.participant_id == participant_id)
    ).all()


def _audit(action, actor_id):
    return db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action, AuditEvent.actor_id == str(actor_id))
    ).all()


def test_first_consent_at_18_is_appended_with_version_acr_and_login_time(
    client, make_participant, login_as, app
):
    with clock.frozen(OSLO_MIDNIGHT_PAST):
        person = make_participant(birth_date=date(2008, 6, 15), consented=False)
        headers = login_as(person, acr="idporten-loa-substantial")
        before = client.get("/v1/me/consents", headers=headers).get_json()
        assert before["decision_required"] is True and before["can_decide"] is True
        assert {p["decision"] for p in before["purposes"]} == {None}
        response = decide(client, headers, biobank="no")
    assert response.status_code == 201, response.get_json()
    state = response.get_json()
    assert state["decision_required"] is False
    assert state["decided_version"] == 1 and state["change_since_decision"] == "none"
    assert {p["code"]: p["decision"] for p in state["purposes"]}["biobank"] == "no"
    with app.app_context():
        rows = _rows(person.id)
        assert len(rows) == 6 and len({r.batch_id for r in rows}) == 1
        assert {(r.acr, r.auth_time, r.decided_at, r.document.version) for r in rows} == {
            ("idporten-loa-substantial", OSLO_MIDNIGHT_PAST, OSLO_MIDNIGHT_PAST, 1)
        }
        (event,) = _audit("consent.decided", person.id)
        assert event.actor_id == str(person.id) and event.details["decisions"]["biobank"] == "no"


def test_under_18_on_the_day_in_norway_cannot_decide(client, make_participant, login_as, app):
    with clock.frozen(OSLO_MIDNIGHT_PAST):
        # 18 tomorrow in Oslo (16 June); in UTC it would still be two days away: the Oslo day counts.
        person = make_participant(birth_date=date(2008, 6, 16), consented=False)
        headers = login_as(person)
        assert client.get("/v1/me/consents", headers=headers).get_json()["can_decide"] is False
        problem(decide(client, headers), 403, "consent-under-18")
    with app.app_context():
        assert _rows(person.id) == []


def test_staff_cannot_decide_for_a_participant(client, login_as):
    problem(decide(client, login_as(staff=("coordinator",))), 403, "forbidden")


def test_deciding_needs_a_login(client):
    problem(decide(client, {}), 401, "unauthorized")


def test_a_decision_on_an_outdated_version_is_refused(client, make_participant, login_as, app, tmp_path):
    person = make_participant(consented=False)
    with app.app_context():
        publish_version(tmp_path, 2, "minor")
    body = problem(decide(client, login_as(person), version=1), 409, "consent-version-outdated")
    assert body["current"] == {"key": "moba-at-18", "version": 2}
    assert decide(client, login_as(person), version=2).status_code == 201


def test_an_unknown_version_is_not_found(client, make_participant, login_as):
    problem(
        decide(client, login_as(make_participant(consented=False)), version=7),
        404,
        "consent-document-not-found",
    )


def test_every_purpose_must_be_decided_and_nothing_else(client, make_participant, login_as, app):
    headers = login_as(make_participant(consented=False))
    body = {"document_key": "moba-at-18", "version": 1, "decisions": {"participation": "yes", "pets": "yes"}}
    errors = problem(client.post("/v1/me/consents", json=body, headers=headers), 422, "validation-failed")
    assert "questionnaires" in errors["errors"]["decisions"] and "pets" in errors["errors"]["decisions"]
    body["decisions"] = {"participation": "maybe"}
    problem(client.post("/v1/me/consents", json=body, headers=headers), 422, "validation-failed")
    problem(client.post("/v1/me/consents", json={**body, "extra": 1}, headers=headers), 422)


def test_history_lists_every_decision_newest_first_with_its_text(
    client, make_participant, login_as, app, tmp_path
):
    start = datetime(2026, 9, 1, 8, tzinfo=UTC)
    with clock.frozen(start):
        person = make_participant(consented=False)
        decide(client, login_as(person))
        clock.advance(timedelta(days=3))
        decide(client, login_as(person), international_sharing="no")
        clock.advance(timedelta(days=3))
        with app.app_context():
            publish_version(tmp_path, 2, "major")
        clock.advance(timedelta(days=1))
        decide(client, login_as(person), version=2, biobank="no")
        history = client.get("/v1/me/consents/history", headers=login_as(person)).get_json()
    assert [h["document"]["version"] for h in history] == [2, 1, 1]
    assert [h["decided_at"][:10] for h in history] == ["2026-09-08", "2026-09-04", "2026-09-01"]
    assert history[0]["document"]["title"]["en"].endswith("(2)")
    assert history[2]["document"]["text"]["nb"].startswith("# Du er 18")
    assert {d["purpose"]: d["decision"] for d in history[1]["decisions"]}["international_sharing"] == "no"
    assert history[0]["acr"] == "idporten-loa-high"


def test_decisions_are_never_changed_in_place(make_participant, app_ctx):
    person = make_participant()
    row = _rows(person.id)[0]
    row.decision = "no"
    with pytest.raises(ConsentLedgerViolation):
        db.session.flush()
    db.session.rollback()


def test_postgresql_refuses_updates_to_the_ledger(make_participant, app_ctx):
    if not db.is_postgres:
        pytest.skip("the trigger exists on PostgreSQL")
    person = make_participant()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(
            sa.text("UPDATE consent_decision SET decision = 'no' WHERE participant_id = :p"), {"p": person.id}
        )


def test_the_consent_state_says_a_minor_change_was_published_since_the_decision(
    client, make_participant, login_as, app, tmp_path
):
    person = make_participant()
    with app.app_context():
        publish_version(tmp_path, 2, "minor")
    state = client.get("/v1/me/consents", headers=login_as(person)).get_json()
    assert state["document"]["version"] == 2
    assert (state["decided_version"], state["change_since_decision"], state["decision_required"]) == (
        1,
        "minor",
        False,
    )


def test_coordinators_see_counts_per_version_purpose_and_decision(
    client, make_participant, login_as, app, tmp_path
):
    yes_to_all = make_participant()
    no_to_biobank = make_participant(consented=False)
    decide(client, login_as(no_to_biobank), biobank="no")
    make_participant(consented=False)  # must still decide
    make_participant(age=17)  # too young to be counted
    withdrawn = make_participant()
    client.post("/v1/me/withdrawal", json={"scope": "no_new_data"}, headers=login_as(withdrawn))
    summary = client.get("/v1/admin/consent/summary", headers=login_as(staff=("coordinator",))).get_json()
    counts = {(c["version"], c["purpose"], c["decision"]): c["participants"] for c in summary["counts"]}
    assert counts[(1, "biobank", "no")] == 1
    assert counts[(1, "biobank", "yes")] == 2
    assert counts[(1, "participation", "yes")] == 3
    assert summary["withdrawn"]["no_new_data"] == 1
    assert summary["must_decide"] == 1
    assert yes_to_all.id
    with app.app_context():
        publish_version(tmp_path, 2, "major")
    summary = client.get("/v1/admin/consent/summary", headers=login_as(staff=("admin",))).get_json()
    assert (summary["current_version"], summary["must_decide"]) == (2, 3)


def test_participants_and_researchers_cannot_read_the_summary(client, make_participant, login_as):
    problem(client.get("/v1/admin/consent/summary", headers=login_as(make_participant())), 403)
    problem(client.get("/v1/admin/consent/summary", headers=login_as(staff=("researcher",))), 403)


def test_the_profile_shows_a_pending_consent_decision(app, make_participant, app_ctx, tmp_path):
    (extra,) = [
        fn
        for fn in app.extensions["engagement.profile_extras"]
        if fn.__module__ == "engagement.consent.routes"
    ]
    done, pending = make_participant(), make_participant(consented=False)
    assert extra(done, clock.now()) == {"consent_decision_pending": False}
    assert extra(pending, clock.now()) == {"consent_decision_pending": True}
    publish_version(tmp_path, 2, "major")
    assert extra(done, clock.now()) == {"consent_decision_pending": True}
    assert rules.decision_required(done, clock.now())


def test_the_consent_and_withdrawal_endpoints_are_documented(client):
    spec = client.get("/openapi.json").get_json()
    for path in (
        "/v1/me/consents",
        "/v1/me/consents/history",
        "/v1/admin/consent/summary",
        "/v1/me/withdrawal",
        "/v1/me/data",
        "/v1/admin/deletion-requests",
    ):
        assert path in spec["paths"], path
    assert "ConsentDecisionLoad" in spec["components"]["schemas"]
