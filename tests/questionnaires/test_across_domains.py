"""Questionnaires meet consent and withdrawal: the consent gate, withdrawal effects, the data copy."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from engagement.consent.documents import QUESTIONNAIRES
from engagement.extensions import db
from engagement.questionnaires.models import Answer, Draft, Response, Task
from tests.conftest import problem
from tests.questionnaires.conftest import TINY_ANSWERS


def submit(client, headers, task, answers):
    body = {"submission_id": str(uuid.uuid4()), "answers": answers}
    return client.post(f"/v1/me/tasks/{task.id}/submission", json=body, headers=headers)


def test_submission_without_the_consent_its_purpose_needs_is_403_consent_required(
    client, make_task, login_as, make_participant
):
    participant = make_participant(consented=False)
    task = make_task(participant)
    headers = login_as(participant)
    problem(submit(client, headers, task, TINY_ANSWERS), 403, "consent-required")
    draft = client.put(
        f"/v1/me/tasks/{task.id}/draft",
        json={"answers": {"TT10": 1}},
        headers={**headers, "If-Match": '"empty"'},
    )
    problem(draft, 403, "consent-required")
    with db.session.begin():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_declining_questionnaires_blocks_submission_after_the_task_was_made(
    client, make_task, login_as, make_participant, app
):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    current = client.get("/v1/me/consents", headers=headers).get_json()
    decisions = {p["code"]: "yes" for p in current["purposes"]} | {QUESTIONNAIRES: "no"}
    body = {"document_key": current["document"]["key"], "version": current["document"]["version"]}
    assert (
        client.post("/v1/me/consents", json={**body, "decisions": decisions}, headers=headers).status_code
        == 201
    )
    problem(submit(client, headers, task, TINY_ANSWERS), 403, "consent-required")


def test_delete_data_withdrawal_cancels_tasks_and_deletes_answers_and_drafts(
    client, make_task, login_as, make_participant, app_ctx
):
    participant = make_participant()
    answered, open_task = make_task(participant), make_task(participant)
    headers = login_as(participant)
    assert submit(client, headers, answered, TINY_ANSWERS).status_code == 201
    client.put(
        f"/v1/me/tasks/{open_task.id}/draft",
        json={"answers": {"TT10": 2}},
        headers={**headers, "If-Match": '"empty"'},
    )
    receipt = client.post("/v1/me/withdrawal", json={"scope": "delete_data"}, headers=headers)
    assert receipt.status_code == 201, receipt.get_json()
    effects = {e["effect"]: e for e in receipt.get_json()["effects"]}
    assert (
        effects["open_tasks_cancelled"]["status"] == "done" and effects["open_tasks_cancelled"]["count"] == 1
    )
    assert effects["answers_and_drafts_deleted"]["status"] == "done"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Answer)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draft)) == 0
    assert db.session.get(Task, open_task.id).status == "cancelled"
    problem(submit(client, headers, open_task, TINY_ANSWERS), 409)


def test_the_data_copy_holds_my_tasks_answers_with_question_texts_and_sessions_and_nobody_elses(
    client, make_task, login_as, make_participant
):
    me = make_participant(language="en")
    other = make_participant()
    mine, theirs = make_task(me), make_task(other)
    my_headers, their_headers = login_as(me), login_as(other)
    assert submit(client, my_headers, mine, TINY_ANSWERS).status_code == 201
    assert (
        submit(client, their_headers, theirs, {**TINY_ANSWERS, "TT21_TEKST": "not mine"}).status_code == 201
    )
    copy = client.get("/v1/me/data", headers=my_headers).get_json()
    (task,) = copy["tasks"]
    assert task["id"] == str(mine.id) and task["status"] == "submitted" and task["title"] == "Tiny"
    answers = {a["item"]: a for a in task["answers"]}
    assert answers["TT10"] == {"item": "TT10", "question": "Sex", "answer": 1}
    assert answers["TT21_TEKST"]["answer"] == "hei"
    assert "not mine" not in str(copy) and str(other.id) not in str(copy)
    assert len(copy["sessions"]) == 1 and copy["sessions"][0]["acr"] == "idporten-loa-high"
