"""Two identical submissions at the same moment, from two threads with their own sessions and real
commits (SQLite and PostgreSQL): exactly one response is stored, and both callers get it."""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires import services
from engagement.questionnaires.models import Answer, Response, Task
from tests.questionnaires.conftest import TINY_ANSWERS

ROUNDS = 5


@pytest.mark.committing
def test_concurrent_identical_submissions_store_exactly_one_response(
    app, tiny_folder, make_participant, login_as
):
    participant = make_participant()
    headers = login_as(participant)
    with app.app_context():
        (version,) = services.publish_all(tiny_folder)
        task_ids = [services.create_task(participant.id, version).id for _ in range(ROUNDS)]
        db.session.commit()

    outcomes: list[list[tuple[int, dict]]] = []
    for task_id in task_ids:
        body = {"submission_id": str(uuid.uuid4()), "answers": TINY_ANSWERS}
        barrier = threading.Barrier(2)
        results: list[tuple[int, dict]] = []

        def post(task_id=task_id, body=body, barrier=barrier, results=results):
            client = app.test_client()
            barrier.wait()
            response = client.post(f"/v1/me/tasks/{task_id}/submission", json=body, headers=headers)
            results.append((response.status_code, response.get_json()))

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        outcomes.append(results)

    for results in outcomes:
        assert sorted(status for status, _ in results) == [200, 201], results
        assert results[0][1] == results[1][1]  # the replay answers with the stored result
    with app.app_context():
        responses = db.session.scalars(sa.select(Response)).all()
        assert sorted(r.task_id for r in responses) == sorted(task_ids)  # exactly one per task
        answers = db.session.scalar(sa.select(sa.func.count()).select_from(Answer))
        statuses = set(db.session.scalars(sa.select(Task.status)))
    per_response = len([v for v in TINY_ANSWERS if v != "TT11"]) + 3  # TT11 is three 0/1 variables
    assert answers == ROUNDS * per_response
    assert statuses == {"submitted"}
