"""Direct assignment (``POST /v1/admin/tasks``) obeys the rule waves obey: adult today, consent to the
questionnaire's purposes, no withdrawal; a refusal says why, and creates nothing."""

from __future__ import annotations

import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires.models import Task
from tests.conftest import problem


def _assign(client, headers, participant):
    body = {"participant_id": str(participant.id), "questionnaire_key": "ung18"}
    return client.post("/v1/admin/tasks", json=body, headers=headers)


def _tasks(app, participant):
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(Task).where(Task.participant_id == participant.id)
        )


def test_an_eligible_participant_is_given_the_task(client, app, seed_version, make_participant, login_as):
    participant = make_participant(age=19)
    response = _assign(client, login_as(staff=("coordinator",)), participant)
    assert response.status_code == 201, response.get_json()
    assert _tasks(app, participant) == 1


def test_a_participant_under_18_is_refused_with_the_reason(
    client, app, seed_version, make_participant, login_as
):
    minor = make_participant(age=17)
    body = problem(_assign(client, login_as(staff=("coordinator",)), minor), 409, "participant-not-eligible")
    assert body["reasons"] == ["under_18"] and body["participant_id"] == str(minor.id)
    assert _tasks(app, minor) == 0


def test_a_participant_who_withdrew_is_refused_with_the_reason(
    client, app, seed_version, make_participant, login_as
):
    participant = make_participant(age=20)
    withdrawn = client.post("/v1/me/withdrawal", json={"scope": "no_new_data"}, headers=login_as(participant))
    assert withdrawn.status_code in (200, 201), withdrawn.get_json()
    body = problem(_assign(client, login_as(staff=("admin",)), participant), 409, "participant-not-eligible")
    assert body["reasons"] == ["withdrawn"]
    assert _tasks(app, participant) == 0


def test_a_participant_without_consent_is_refused_with_the_reason(
    client, app, seed_version, make_participant, login_as
):
    participant = make_participant(age=20, consented=False)
    body = problem(
        _assign(client, login_as(staff=("coordinator",)), participant), 409, "participant-not-eligible"
    )
    assert body["reasons"] == ["no_consent"]
    assert _tasks(app, participant) == 0
