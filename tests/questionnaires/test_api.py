"""The catalogue, tasks, drafts and submissions over HTTP (Flask test client, rolled-back transaction)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from engagement import clock
from engagement.extensions import db
from engagement.questionnaires import services
from engagement.questionnaires.models import Answer, Draft, Response, Task
from tests.conftest import problem
from tests.questionnaires.conftest import TINY_ANSWERS

# ------------------------------------------------------------------------------ catalogue


def test_catalogue_lists_the_latest_version_of_each_questionnaire(
    client, published, login_as, make_participant
):
    body = client.get("/v1/questionnaires", headers=login_as(make_participant())).get_json()
    assert [(q["key"], q["version"]) for q in body] == [("tiny", 1), ("ung18", 2)]
    assert body[1]["title"]["nn"] == "MoBa 18 år"
    assert body[1]["href"] == "/v1/questionnaires/ung18/versions/2"


def test_catalogue_needs_a_token(client, published):
    problem(client.get("/v1/questionnaires"), 401, "unauthorized")


def test_version_etag_round_trip_gives_304(client, published, login_as, make_participant):
    headers = login_as(make_participant())
    first = client.get("/v1/questionnaires/ung18/versions/1?locale=nb", headers=headers)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get(
        "/v1/questionnaires/ung18/versions/1?locale=nb", headers={**headers, "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    other = client.get(
        "/v1/questionnaires/ung18/versions/1?locale=en", headers={**headers, "If-None-Match": etag}
    )
    assert other.status_code == 200 and other.headers["ETag"] != etag  # each language has its own ETag


def test_version_language_from_query_or_accept_language_or_all(client, published, login_as, make_participant):
    headers = login_as(make_participant())
    url = "/v1/questionnaires/ung18/versions/1"
    nn = client.get(f"{url}?locale=nn", headers=headers).get_json()
    assert nn["locale"] == "nn" and nn["definition"]["title"] == "MoBa 18 år"
    assert nn["definition"]["sections"][0]["title"] == "Kvardag og utdanning"
    en = client.get(url, headers={**headers, "Accept-Language": "en-GB, nb;q=0.5"}).get_json()
    assert en["locale"] == "en" and en["definition"]["sections"][0]["title"] == "Daily life and education"
    norwegian = client.get(url, headers={**headers, "Accept-Language": "no"}).get_json()
    assert norwegian["locale"] == "nb"
    everything = client.get(url, headers=headers).get_json()
    assert everything["locale"] == "all"
    assert set(everything["definition"]["sections"][0]["title"]) == {"nb", "nn", "en"}
    problem(client.get(f"{url}?locale=de", headers=headers), 422)


def test_unknown_version_is_404(client, published, login_as, make_participant):
    response = client.get("/v1/questionnaires/ung18/versions/9", headers=login_as(make_participant()))
    problem(response, 404, "questionnaire-not-found")


# ------------------------------------------------------------------------------ tasks


def test_coordinator_assigns_a_task(client, published, login_as, make_participant):
    participant = make_participant()
    due = (clock.now() + timedelta(days=14)).isoformat()
    response = client.post(
        "/v1/admin/tasks",
        json={"participant_id": str(participant.id), "questionnaire_key": "ung18", "due_at": due},
        headers=login_as(staff=("coordinator",)),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "open"
    assert body["questionnaire"]["version"] == 2  # the latest when none is named
    listed = client.get("/v1/me/tasks", headers=login_as(participant)).get_json()
    assert [t["id"] for t in listed] == [body["id"]]


def test_only_coordinators_and_admins_assign(client, published, login_as, make_participant):
    participant = make_participant()
    body = {"participant_id": str(participant.id), "questionnaire_key": "tiny"}
    problem(client.post("/v1/admin/tasks", json=body, headers=login_as(staff=("researcher",))), 403)
    problem(client.post("/v1/admin/tasks", json=body, headers=login_as(participant)), 403)
    ok = client.post("/v1/admin/tasks", json=body, headers=login_as(staff=("admin",)))
    assert ok.status_code == 201


def test_assigning_to_an_unknown_participant_or_version_is_404(client, published, login_as):
    headers = login_as(staff=("coordinator",))
    body = {"participant_id": str(uuid.uuid4()), "questionnaire_key": "tiny"}
    problem(client.post("/v1/admin/tasks", json=body, headers=headers), 404, "participant-not-found")
    body["questionnaire_version"] = 7
    problem(client.post("/v1/admin/tasks", json=body, headers=headers), 404, "questionnaire-not-found")


def test_task_list_shows_an_overdue_task_as_expired(client, make_task, login_as, make_participant):
    participant = make_participant()
    make_task(participant, due_at=clock.now() + timedelta(hours=1))
    with clock.frozen(clock.now() + timedelta(hours=2)):
        (task,) = client.get("/v1/me/tasks", headers=login_as(participant)).get_json()
    assert task["status"] == "expired"


def test_somebody_elses_task_is_not_found(client, make_task, login_as, make_participant):
    task = make_task(make_participant())
    response = client.get(f"/v1/me/tasks/{task.id}/draft", headers=login_as(make_participant()))
    problem(response, 404, "task-not-found")


# ------------------------------------------------------------------------------ drafts


def test_draft_round_trip_with_if_match(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    url = f"/v1/me/tasks/{task.id}/draft"
    empty = client.get(url, headers=headers)
    assert empty.get_json()["answers"] == {}
    saved = client.put(
        url, json={"answers": {"TT10": 1}}, headers={**headers, "If-Match": empty.headers["ETag"]}
    )
    assert saved.status_code == 200, saved.get_json()
    assert saved.headers["ETag"] != empty.headers["ETag"]
    # another device reads it and saves on top
    read = client.get(url, headers=headers)
    assert read.get_json()["answers"] == {"TT10": 1} and read.headers["ETag"] == saved.headers["ETag"]
    second = client.put(
        url, json={"answers": {"TT10": 2}}, headers={**headers, "If-Match": read.headers["ETag"]}
    )
    assert second.status_code == 200
    (listed,) = client.get("/v1/me/tasks", headers=headers).get_json()
    assert listed["status"] == "in_progress" and listed["started_at"]


def test_draft_save_without_if_match_is_428_and_stale_is_412(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    url = f"/v1/me/tasks/{task.id}/draft"
    problem(client.put(url, json={"answers": {}}, headers=headers), 428, "draft-if-match-required")
    first = client.put(url, json={"answers": {"TT10": 1}}, headers={**headers, "If-Match": '"empty"'})
    assert first.status_code == 200
    stale = client.put(url, json={"answers": {"TT10": 3}}, headers={**headers, "If-Match": '"empty"'})
    problem(stale, 412, "draft-changed")
    assert client.get(url, headers=headers).get_json()["answers"] == {"TT10": 1}


def test_draft_is_checked_for_type_only(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant)
    headers = {**login_as(participant), "If-Match": '"empty"'}
    url = f"/v1/me/tasks/{task.id}/draft"
    bad = problem(
        client.put(url, json={"answers": {"TT15": "tall", "NOPE": 1}}, headers=headers), 422, "draft-invalid"
    )
    assert set(bad["errors"]) == {"TT15", "NOPE"}
    assert client.put(url, json={"answers": {"TT15": 5, "TT31": True}}, headers=headers).status_code == 200


# ------------------------------------------------------------------------------ submissions


def submit(client, headers, task, answers, submission_id=None):
    body = {"submission_id": str(submission_id or uuid.uuid4()), "answers": answers}
    return client.post(f"/v1/me/tasks/{task.id}/submission", json=body, headers=headers)


def test_submission_is_stored_with_normalised_answers_and_closes_the_task(
    client, make_task, login_as, make_participant
):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    client.put(
        f"/v1/me/tasks/{task.id}/draft",
        json={"answers": {"TT10": 1}},
        headers={**headers, "If-Match": '"empty"'},
    )
    response = submit(client, headers, task, TINY_ANSWERS)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["answers"] == TINY_ANSWERS and body["questionnaire"]["key"] == "tiny"
    rows = {a.variable: a for a in db.session.scalars(sa.select(Answer))}
    assert rows["TT12"].value_number == 0.0 and rows["TT13"].value_number == 1.0
    assert rows["TT21_TEKST"].value_text == "hei"
    assert db.session.get(Draft, task.id) is None  # the draft is gone once submitted
    (listed,) = client.get("/v1/me/tasks", headers=headers).get_json()
    assert listed["status"] == "submitted" and listed["submitted_at"]


def test_stored_answers_keep_every_character_and_number_exactly(
    client, make_task, login_as, make_participant
):
    participant = make_participant()
    task = make_task(participant)
    text = '"å" \\\n—✓{1,2}NULL'  # at most 20 characters
    answers = {**TINY_ANSWERS, "TT21_TEKST": text, "TT16": 6.5}
    response = submit(client, login_as(participant), task, answers)
    assert response.status_code == 201, response.get_json()
    rows = {a.variable: a for a in db.session.scalars(sa.select(Answer))}
    stored = db.session.scalars(sa.select(Response)).one()
    assert rows["TT21_TEKST"].value_text == text and rows["TT16"].value_number == 6.5
    layout = services.export_layout(services.definition_of(stored.questionnaire_version))
    packed = dict(zip(layout, stored.export_values, strict=True))
    assert packed["TT16"] == 6.5 and packed["TT15"] == TINY_ANSWERS["TT15"]
    assert all(
        (packed[v] == rows[v].value_number) or (rows[v].value_number is None and packed[v] != packed[v])
        for v in rows
        if v != "TT21_TEKST" and packed.get(v) is not None
    )


def test_the_same_submission_again_answers_200_with_the_stored_result(
    client, make_task, login_as, make_participant
):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    submission_id = uuid.uuid4()
    first = submit(client, headers, task, TINY_ANSWERS, submission_id)
    again = submit(client, headers, task, TINY_ANSWERS, submission_id)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1


def test_the_same_submission_id_with_another_body_is_409(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    submission_id = uuid.uuid4()
    submit(client, headers, task, TINY_ANSWERS, submission_id)
    changed = submit(client, headers, task, {**TINY_ANSWERS, "TT15": 171}, submission_id)
    problem(changed, 409, "submission-conflict")


def test_a_submission_id_used_on_another_task_is_409_and_stores_nothing(
    client, make_task, login_as, make_participant
):
    participant = make_participant()
    first, second = make_task(participant), make_task(participant)
    headers = login_as(participant)
    submission_id = uuid.uuid4()
    assert submit(client, headers, first, TINY_ANSWERS, submission_id).status_code == 201
    problem(submit(client, headers, second, TINY_ANSWERS, submission_id), 409, "submission-conflict")
    db.session.expire_all()
    assert db.session.get(Task, second.id).status == "open"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1


def test_a_second_submission_to_a_submitted_task_is_409(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    submit(client, headers, task, TINY_ANSWERS)
    problem(submit(client, headers, task, TINY_ANSWERS), 409, "task-already-submitted")


def test_expired_and_cancelled_tasks_refuse_submissions_with_their_own_problem(
    client, make_task, login_as, make_participant, app
):
    participant = make_participant()
    headers = login_as(participant)
    expired = make_task(participant, due_at=clock.now() + timedelta(minutes=5))
    cancelled = make_task(participant)
    later = make_task(participant, opens_at=clock.now() + timedelta(days=1))
    with app.app_context():
        assert services.cancel_open_tasks(participant.id, "withdrawal") == 3
        db.session.commit()
    problem(submit(client, headers, cancelled, TINY_ANSWERS), 409, "task-cancelled")
    fresh = make_task(participant, due_at=clock.now() + timedelta(minutes=5))
    with clock.frozen(clock.now() + timedelta(minutes=6)):
        problem(submit(client, headers, fresh, TINY_ANSWERS), 409, "task-expired")
        problem(
            client.put(
                f"/v1/me/tasks/{fresh.id}/draft",
                json={"answers": {}},
                headers={**headers, "If-Match": '"empty"'},
            ),
            409,
            "task-expired",
        )
    with app.app_context():
        statuses = {db.session.get(Task, t.id).status for t in (expired, later)}
    assert statuses == {"cancelled"}


def test_a_task_that_has_not_opened_refuses_answers(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant, opens_at=clock.now() + timedelta(days=1))
    problem(submit(client, login_as(participant), task, TINY_ANSWERS), 409, "task-not-open-yet")


def test_invalid_submission_reports_every_problem_per_item(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant)
    answers = {**TINY_ANSWERS, "TT15": 50, "TT11": [7], "TT31": True, "XX": 1}
    del answers["TT20"]
    body = problem(submit(client, login_as(participant), task, answers), 422, "answers-invalid")
    assert set(body["errors"]) == {"TT15", "TT11", "TT31", "XX", "TT20"}
    assert body["errors"]["TT20"] == ["required"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_submission_body_must_name_a_uuid(client, make_task, login_as, make_participant):
    participant = make_participant()
    task = make_task(participant)
    response = client.post(
        f"/v1/me/tasks/{task.id}/submission",
        json={"submission_id": "not-a-uuid", "answers": {}, "extra": 1},
        headers=login_as(participant),
    )
    body = problem(response, 422)
    assert set(body["errors"]["json"]) == {"submission_id", "extra"}


def test_a_response_never_changes(app_ctx, client, make_task, login_as, make_participant):
    from engagement.questionnaires.models import ImmutableRecordChanged

    participant = make_participant()
    task = make_task(participant)
    submit(client, login_as(participant), task, TINY_ANSWERS)
    response = db.session.scalars(sa.select(Response)).one()
    response.answers = {}
    try:
        db.session.flush()
        raise AssertionError("a response was changed")
    except ImmutableRecordChanged:
        db.session.rollback()


# ------------------------------------------------------------------------------ services other domains call


def test_expire_open_tasks_marks_overdue_tasks(app, make_task, make_participant):
    participant = make_participant()
    overdue = make_task(participant, due_at=clock.now() + timedelta(hours=1))
    current = make_task(participant, due_at=clock.now() + timedelta(days=3))
    with app.app_context():
        assert services.expire_open_tasks(clock.now() + timedelta(hours=2)) == 1
        overdue, current = db.session.get(Task, overdue.id), db.session.get(Task, current.id)
        assert (overdue.status, overdue.closed_reason, current.status) == ("expired", "due", "open")


def test_delete_participant_answers_removes_drafts_responses_and_answers(
    client, make_task, login_as, make_participant, app
):
    participant, other = make_participant(), make_participant()
    headers = login_as(participant)
    done, pending, others = make_task(participant), make_task(participant), make_task(other)
    submit(client, headers, done, TINY_ANSWERS)
    client.put(
        f"/v1/me/tasks/{pending.id}/draft",
        json={"answers": {"TT10": 1}},
        headers={**headers, "If-Match": '"empty"'},
    )
    submit(client, login_as(other), others, TINY_ANSWERS)
    with app.app_context():
        assert services.delete_participant_answers(participant.id) == 2
        remaining = db.session.scalars(sa.select(Response.participant_id)).all()
        assert remaining == [other.id]
        variables = db.session.scalars(sa.select(Answer.response_id).distinct()).all()
        assert len(variables) == 1
        assert db.session.get(Task, done.id) is not None  # the record of what was asked stays


def test_the_seed_questionnaire_accepts_a_complete_answer_set(client, make_task, login_as, make_participant):
    from engagement.dev.demo import ung18_answers

    participant = make_participant()
    task = make_task(participant, key="ung18", version=1)
    response = submit(client, login_as(participant), task, ung18_answers())
    assert response.status_code == 201, response.get_json()
