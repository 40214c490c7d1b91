"""Which person a record belongs to never changes in passing: a roster import refuses it per line
(its dry run says so), and an identity correction is explicit, reasoned, ends the record's sessions
and is audited without the number."""

from __future__ import annotations

import json
import uuid
from datetime import date

import sqlalchemy as sa

from engagement import clock
from engagement.audit import AuditEvent
from engagement.auth import sessions
from engagement.auth.models import SessionFamily
from engagement.extensions import db
from engagement.participants.cli import cli as participants_cli
from engagement.participants.models import Participant
from engagement.participants.services import hash_pid
from tests.conftest import problem
from tests.identities import synthetic_fnr

BORN = date(2006, 3, 14)
ROSTER = "/v1/admin/roster"


def _csv(*rows):
    lines = ["cohort_person_id,fodselsnummer,birth_date,language", *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


def _post_roster(client, headers, body, dry_run=False):
    url = ROSTER + ("?dry_run=true" if dry_run else "")
    return client.post(url, data=body, content_type="text/csv", headers=headers)


def _record(app, cohort_person_id):
    with app.app_context():
        return db.session.scalar(
            sa.select(Participant).where(Participant.cohort_person_id == cohort_person_id)
        )


def _hash(app, number):
    with app.app_context():
        return hash_pid(number)


def _live_sessions(app, participant_id):
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SessionFamily)
            .where(SessionFamily.participant_id == participant_id, SessionFamily.revoked_at.is_(None))
        )


def _pair(client, login_as):
    """M1 and M2 on the roster, each with their own number."""
    headers = login_as(staff=("coordinator",))
    first, second = synthetic_fnr(BORN), synthetic_fnr(BORN)
    while second == first:
        second = synthetic_fnr(BORN)
    created = _post_roster(
        client, headers, _csv(("M1", first, "2006-03-14", "nb"), ("M2", second, "2006-03-14", "nb"))
    )
    assert created.status_code == 200, created.get_json()
    return headers, first, second


def test_a_roster_line_with_another_number_for_an_existing_record_is_refused(app, client, login_as):
    headers, first, _ = _pair(client, login_as)
    newcomer = synthetic_fnr(BORN)
    response = _post_roster(client, headers, _csv(("M1", newcomer, "2006-03-14", "nb")))
    lines = problem(response, 422, "roster-rejected")["errors"]["lines"]
    assert [entry["line"] for entry in lines] == [2]
    assert any("identity correction" in reason for reason in lines[0]["reasons"])
    assert newcomer not in response.get_data(as_text=True) and first not in response.get_data(as_text=True)
    assert _record(app, "M1").pid_hash == _hash(app, first)


def test_a_roster_line_with_a_number_bound_to_another_record_is_refused(app, client, login_as):
    headers, first, _ = _pair(client, login_as)
    response = _post_roster(client, headers, _csv(("M3", first, "2006-03-14", "nb")))
    lines = problem(response, 422, "roster-rejected")["errors"]["lines"]
    assert lines == [{"line": 2, "reasons": ["fodselsnummer belongs to another cohort_person_id"]}]
    assert _record(app, "M3") is None


def test_the_dry_run_says_what_each_line_would_do_and_changes_nothing(app, client, login_as):
    headers, first, _ = _pair(client, login_as)
    body = _csv(
        ("M1", first, "2006-03-14", "en"),  # update (language)
        ("M2", synthetic_fnr(BORN), "2006-03-14", "nb"),  # refused: another person
        ("M9", synthetic_fnr(BORN), "2006-03-14", "nb"),  # create
        ("M8", "123", "2006-03-14", "nb"),  # refused: not a number
    )
    response = _post_roster(client, headers, body, dry_run=True)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["dry_run"] is True
    assert (report["created"], report["updated"], report["unchanged"], report["refused"]) == (1, 1, 0, 2)
    outcomes = {line["line"]: (line["outcome"], line["reasons"]) for line in report["lines"]}
    assert outcomes[2] == ("update", []) and outcomes[4] == ("create", [])
    assert outcomes[3][0] == "refused" and "identity correction" in outcomes[3][1][0]
    assert outcomes[5][0] == "refused"
    assert first not in response.get_data(as_text=True)
    assert _record(app, "M9") is None and _record(app, "M1").language == "nb"


def test_the_cli_refuses_an_identity_change_and_has_a_dry_run(app, client, login_as, tmp_path):
    _, first, _ = _pair(client, login_as)
    path = tmp_path / "roster.json"
    newcomer = synthetic_fnr(BORN)
    record = {
        "cohort_person_id": "M1",
        "fodselsnummer": newcomer,
        "birth_date": "2006-03-14",
        "language": "nb",
    }
    path.write_text(json.dumps([record]))
    runner = app.test_cli_runner()
    dry = runner.invoke(participants_cli, ["import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "line 1: refused: fodselsnummer differs" in dry.output and newcomer not in dry.output
    real = runner.invoke(participants_cli, ["import", str(path)])
    assert real.exit_code != 0 and "nothing was imported" in real.output
    assert _record(app, "M1").pid_hash == _hash(app, first)


def _correct(client, headers, cohort_person_id, number, reason="Roster error reported by the registry"):
    return client.post(
        f"/v1/admin/participants/{cohort_person_id}/identity",
        json={"fodselsnummer": number, "reason": reason},
        headers=headers,
    )


def test_an_identity_correction_ends_every_session_and_is_audited_without_the_number(app, client, login_as):
    _, first, _ = _pair(client, login_as)
    participant = _record(app, "M1")
    login_as(participant), login_as(participant)
    assert _live_sessions(app, participant.id) == 2
    right = synthetic_fnr(BORN)
    admin_id = uuid.uuid4()
    response = _correct(client, login_as(staff=("admin",), staff_id=admin_id), "M1", right)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["sessions_ended"] == 2 and right not in response.get_data(as_text=True)
    assert _live_sessions(app, participant.id) == 0
    assert _record(app, "M1").pid_hash == _hash(app, right)
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "participant.identity_corrected")
        ).one()
        assert str(event.object_id) == str(participant.id) and str(event.actor_id) == str(admin_id)
        assert event.details["cohort_person_id"] == "M1" and event.details["sessions_ended"] == 2
        assert event.details["reason"] == "Roster error reported by the registry"
        assert right not in json.dumps(event.details) and first not in json.dumps(event.details)


def test_an_identity_correction_refuses_another_records_number_a_missing_reason_and_non_admins(
    app, client, login_as
):
    _, first, second = _pair(client, login_as)
    admin = login_as(staff=("admin",))
    problem(_correct(client, admin, "M1", second), 409, "pid-of-another-record")
    problem(_correct(client, admin, "M1", first), 409, "identity-unchanged")
    problem(_correct(client, admin, "M1", synthetic_fnr(BORN), reason=""), 422)
    body = problem(_correct(client, admin, "M1", synthetic_fnr(BORN), reason=f"typo in {second}"), 422)
    assert second not in json.dumps(body)
    problem(_correct(client, admin, "M1", synthetic_fnr(date(2005, 1, 2))), 422)  # another birth date
    problem(_correct(client, admin, "M404", synthetic_fnr(BORN)), 404, "participant-not-found")
    problem(_correct(client, login_as(staff=("coordinator",)), "M1", synthetic_fnr(BORN)), 403)
    assert _record(app, "M1").pid_hash == _hash(app, first)


def test_the_cli_corrects_an_identity_asking_for_the_number(app, client, login_as):
    _pair(client, login_as)
    participant = _record(app, "M2")
    with app.test_request_context():
        sessions.open_session(
            kind="participant",
            client_id="test-app",
            participant_id=participant.id,
            upstream_issuer="https://test-idporten.invalid",
            upstream_sid=uuid.uuid4().hex,
            acr="idporten-loa-high",
            auth_time=clock.now(),
        )
        db.session.commit()
    right = synthetic_fnr(BORN)
    result = app.test_cli_runner().invoke(
        participants_cli,
        ["correct-identity", "M2", "--reason", "Swapped with a sibling at registration"],
        input=right + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "1 session(s) ended" in result.output and right not in result.output
    assert _record(app, "M2").pid_hash == _hash(app, right)
    assert _live_sessions(app, participant.id) == 0
