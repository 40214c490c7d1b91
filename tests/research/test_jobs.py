"""Extract jobs: asked for over HTTP (202), run by a worker, one per project at a time (409), picked
up again when their worker dies without leaving a half release, failed with a reason, audited."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.audit import AuditEvent
from engagement.extensions import db
from engagement.research import downloads, jobs, projects
from engagement.research.models import Extract, ExtractJob
from engagement.research.worker import ExtractWorker
from notifications.worker import Worker
from tests.conftest import problem

LEASE = timedelta(minutes=2)


def ask(client: Any, code: str, headers: dict[str, str], kind: str = "full") -> Any:
    return client.post(f"/v1/research/projects/{code}/extracts", json={"kind": kind}, headers=headers)


def queue(app: Any, code: str) -> uuid.UUID:
    with app.app_context():
        job = jobs.request_extract(projects.get_project(code), "full")
        db.session.commit()
        return job.id


def job_row(app: Any, job_id: uuid.UUID) -> ExtractJob:
    with app.app_context():
        job = db.session.get_one(ExtractJob, job_id)
        db.session.expunge(job)
        return job


def audited(app: Any, job_id: uuid.UUID) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent.action)
                .where(AuditEvent.object_id == str(job_id))
                .order_by(AuditEvent.id)
            )
        )


def test_a_request_is_queued_then_the_worker_delivers_it_and_the_job_says_so(
    app, client, login_as, make_participant, answer, make_project
):
    answer(make_participant())
    code = make_project()
    coordinator = login_as(staff=("coordinator",))
    asked = ask(client, code, coordinator)
    assert asked.status_code == 202, asked.get_json()
    job = asked.get_json()
    assert (
        job["status"] == "queued"
        and job["project"] == code
        and job["href"] == f"/v1/research/jobs/{job['id']}"
    )
    assert client.get(job["href"], headers=coordinator).get_json()["status"] == "queued"
    with app.app_context():  # nothing is written until a worker runs it
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Extract)) == 0

    outcomes = ExtractWorker(app, "worker-a", lease=LEASE).run_pending()
    assert [o.status for o in outcomes] == ["done"]
    done = client.get(job["href"], headers=coordinator).get_json()
    assert done["status"] == "done" and done["release"] == "R0001" and done["attempts"] == 1
    assert done["finished_at"] and "failure" not in done and "progress" not in done
    listed = client.get(done["extracts"], headers=coordinator).get_json()
    assert [e["release"] for e in listed] == ["R0001"] and listed[0]["rows"] == 1
    assert audited(app, uuid.UUID(job["id"])) == [
        "research.extract_job_requested",
        "research.extract_job_done",
    ]
    assert ExtractWorker(app, "worker-a", lease=LEASE).run_pending() == []  # nothing left


def test_a_second_request_while_one_is_queued_gets_409_naming_it(
    app, client, login_as, make_participant, answer, make_project
):
    answer(make_participant())
    code, other = make_project(), make_project()
    admin = login_as(staff=("admin",))
    first = ask(client, code, admin).get_json()
    refused = problem(ask(client, code, admin, "since-last"), 409, "research-extract-job-running")
    assert refused["job"] == first["id"] and refused["job_status"] == "queued"
    assert first["id"] in refused["detail"] and refused["href"] == first["href"]
    assert ask(client, other, admin).status_code == 202  # one per project, not one in all
    ExtractWorker(app, "worker-a", lease=LEASE).run_pending()
    assert ask(client, code, admin, "since-last").status_code == 202  # done: the next may start


@pytest.mark.committing
def test_four_concurrent_requests_give_one_job_and_three_409s(
    app, login_as, make_participant, answer, make_project
):
    answer(make_participant())
    code = make_project()
    headers = login_as(staff=("coordinator",))
    barrier = threading.Barrier(4)
    results: list[tuple[int, dict[str, Any]]] = []

    def post() -> None:
        client = app.test_client()
        barrier.wait()
        response = ask(client, code, headers)
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(status for status, _ in results) == [202, 409, 409, 409], results
    (created,) = [body for status, body in results if status == 202]
    for status, body in results:
        if status == 409:
            assert body["type"] == "urn:moba-engagement:problem:research-extract-job-running"
            assert body["job"] == created["id"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ExtractJob)) == 1


def test_a_job_whose_worker_died_is_claimed_again_and_leaves_no_half_release(
    app, make_participant, answer, make_project
):
    answer(make_participant())
    code = make_project()
    job_id = queue(app, code)
    start = clock.now()
    with clock.frozen(start), app.app_context():
        dead = jobs.claim("worker-that-dies", start, LEASE)  # claimed, then the process is killed
        assert dead is not None and dead.id == job_id
        db.session.commit()
        folder = downloads.data_store() / projects.get_project(code).folder
    # what it left: a release half written in its hidden folder, and one renamed but never recorded
    (folder / ".R0001.partial-x1y2z3").mkdir(parents=True)
    (folder / ".R0001.partial-x1y2z3" / f"{code}_UNG18_A.csv").write_text("half")
    (folder / "R0001").mkdir()
    (folder / "R0001" / "manifest.json").write_text("{}")

    with clock.frozen(start + LEASE / 2):  # the lease still holds: nobody takes it
        assert ExtractWorker(app, "worker-b", lease=LEASE).run_pending() == []
    assert job_row(app, job_id).status == "running"
    with clock.frozen(start + LEASE + timedelta(seconds=1)):
        outcomes = ExtractWorker(app, "worker-b", lease=LEASE).run_pending()
    assert [(o.status, o.release) for o in outcomes] == [("done", "R0001")]
    job = job_row(app, job_id)
    assert job.status == "done" and job.attempts == 2 and job.locked_by is None
    assert sorted(p.name for p in folder.iterdir()) == ["R0001"]  # nothing hidden, nothing half
    assert (folder / "R0001" / f"{code}_UNG18_A.csv").read_text() != "half"
    assert "SHA256SUMS" in {p.name for p in (folder / "R0001").iterdir()}


def test_a_job_that_stops_its_worker_every_time_is_failed_not_tried_forever(
    app, make_participant, answer, make_project
):
    answer(make_participant())
    code = make_project()
    job_id = queue(app, code)
    at = clock.now()
    for attempt in range(jobs.MAX_ATTEMPTS):
        with app.app_context():
            assert jobs.claim(f"dies-{attempt}", at, LEASE) is not None
            db.session.commit()
        at += LEASE + timedelta(seconds=1)
    with clock.frozen(at):
        assert ExtractWorker(app, "worker-b", lease=LEASE).run_pending() == []
    job = job_row(app, job_id)
    assert job.status == "failed" and f"stopped {jobs.MAX_ATTEMPTS} times" in (job.failure or "")
    assert audited(app, job_id)[-1] == "research.extract_job_failed"


def test_a_failing_job_is_failed_with_the_reason_and_the_project_may_ask_again(
    app, client, login_as, make_participant, answer, make_project, tmp_path
):
    answer(make_participant())
    code = make_project()
    admin = login_as(staff=("admin",))
    job = ask(client, code, admin).get_json()
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data store should be")
    store = app.config["DATA_STORE_DIR"]
    app.config["DATA_STORE_DIR"] = str(blocked)
    try:
        outcomes = ExtractWorker(app, "worker-a", lease=LEASE).run_pending()
    finally:
        app.config["DATA_STORE_DIR"] = store
    assert [o.status for o in outcomes] == ["failed"]
    failed = client.get(job["href"], headers=admin).get_json()
    assert failed["status"] == "failed" and failed["failure"].startswith("internal error (")
    assert "release" not in failed
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Extract)) == 0
    assert audited(app, uuid.UUID(job["id"]))[-1] == "research.extract_job_failed"
    assert ask(client, code, admin).status_code == 202


def test_the_reminder_worker_runs_queued_extract_jobs(app, make_participant, answer, make_project):
    answer(make_participant())
    code = make_project()
    job_id = queue(app, code)
    totals = Worker(app, sender=_NoPush()).run_once()
    assert totals.extract_jobs == 1
    assert job_row(app, job_id).status == "done"


def test_the_foreground_extract_reports_its_stages_in_order(app, make_participant, answer, make_project):
    answer(make_participant())
    code = make_project()
    job_id = queue(app, code)
    seen: list[tuple[str, float]] = []
    outcome = ExtractWorker(app, "cli", lease=LEASE).run_next(
        job_id=job_id, progress=lambda s, d: seen.append((s, d))
    )
    assert outcome is not None and outcome.status == "done"
    stages = [stage for stage, _ in seen]
    assert stages == [
        "choosing responses",
        "drawing pseudonyms",
        "reading answers",
        "writing files",
        "recording the delivery",
    ]
    assert [done for _, done in seen] == sorted(done for _, done in seen)


@pytest.mark.committing
def test_a_running_job_shows_its_stage_and_progress_to_others(
    app, client, login_as, make_participant, answer, make_project
):
    with app.app_context():
        if not db.is_postgres:
            pytest.skip("SQLite has one writer at a time: the progress shows at the start and the end")
    answer(make_participant())
    code = make_project()
    headers = login_as(staff=("coordinator",))
    job = ask(client, code, headers).get_json()
    shown: list[dict[str, Any]] = []

    def look(stage: str, done: float) -> None:
        if stage != "writing files":
            return

        def other_request() -> None:  # another request, in a thread (and session) of its own
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # written by the lease's own connection, at once
                view = app.test_client().get(job["href"], headers=headers).get_json()
                if view.get("stage") == stage:
                    shown.append(view)
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=other_request)
        thread.start()
        thread.join(timeout=30)

    outcome = ExtractWorker(app, "worker-a", lease=LEASE).run_next(progress=look)
    assert outcome is not None and outcome.status == "done"
    assert shown and shown[0]["status"] == "running" and shown[0]["progress"] == 0.5


class _NoPush:
    def send(self, messages: Any) -> list[Any]:
        raise AssertionError("no reminder is due")
