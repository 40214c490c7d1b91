"""/metrics (behind its token) counts requests by route and status and submissions by outcome; the logs
carry request id, route, status and duration, and never a fødselsnummer or a token."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from tests.auth.live import Server
from tests.conftest import problem
from tests.identities import synthetic_fnr
from tests.questionnaires.conftest import TINY_ANSWERS

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex
SUBMISSION_ROUTE = "/v1/me/tasks/<uuid:task_id>/submission"


def _submissions(outcome: str) -> float:
    return REGISTRY.get_sample_value("engagement_submissions_total", {"outcome": outcome}) or 0.0


def _submit(client, headers, task, answers, submission_id=None):
    body = {"submission_id": str(submission_id or uuid.uuid4()), "answers": answers}
    return client.post(f"/v1/me/tasks/{task.id}/submission", json=body, headers=headers)


@pytest.fixture
def metrics_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", METRICS_TOKEN)


def test_metrics_need_the_token_and_do_not_exist_without_one(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", None)
    problem(client.get("/metrics", headers={"Authorization": "Bearer anything"}), 404)
    monkeypatch.setitem(app.config, "METRICS_TOKEN", METRICS_TOKEN)
    problem(client.get("/metrics"), 401)
    problem(client.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN[:-1]}), 401)
    assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200


def test_submissions_are_counted_by_outcome_and_requests_by_route_and_status(
    client, metrics_on, make_task, make_participant, login_as
):
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    before = {o: _submissions(o) for o in ("stored", "repeated", "answers-invalid", "task-not-found")}
    submission_id = uuid.uuid4()
    assert _submit(client, headers, task, {"TT10": 1}).status_code == 422
    assert _submit(client, headers, task, TINY_ANSWERS, submission_id).status_code == 201
    assert _submit(client, headers, task, TINY_ANSWERS, submission_id).status_code == 200
    assert (
        client.post(
            f"/v1/me/tasks/{uuid.uuid4()}/submission",
            json={"submission_id": str(uuid.uuid4()), "answers": {}},
            headers=headers,
        ).status_code
        == 404
    )
    after = {o: _submissions(o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {
        "stored": 1,
        "repeated": 1,
        "answers-invalid": 1,
        "task-not-found": 1,
    }

    text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
    assert f'engagement_submissions_total{{outcome="stored"}} {after["stored"]}' in text
    histogram = (
        'engagement_http_request_duration_seconds_count{method="POST",'
        f'route="{SUBMISSION_ROUTE}",status="201"}}'
    )
    assert histogram in text
    assert "engagement_reminder_worker_lag_seconds" in text
    assert str(participant.id) not in text and str(task.id) not in text  # routes, not paths


@pytest.fixture
def log_lines(app) -> Iterator[io.StringIO]:
    """Everything the service's own log handler writes (JSON lines), at DEBUG."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_engagement", False))
    captured = io.StringIO()
    previous_stream = handler.setStream(captured)
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.setLevel(previous_level)
        handler.setStream(previous_stream)


def test_access_log_lines_carry_request_id_route_status_and_duration(client, log_lines):
    client.get("/v1/me", headers={"X-Request-Id": "req-42"}).close()
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.startswith("{")]
    (access,) = [e for e in entries if e["logger"] == "engagement.access" and e.get("request_id") == "req-42"]
    assert access["route"] == "/v1/me" and access["status"] == 401 and access["method"] == "GET"
    assert isinstance(access["duration_ms"], float | int) and access["duration_ms"] >= 0


def test_no_fodselsnummer_or_token_reaches_the_logs_from_hostile_requests(
    app, make_task, make_participant, login_as, log_lines
):
    """Over real HTTP (werkzeug logs every request line, query included), a client puts a fødselsnummer
    and its token in paths, queries, headers and answers; none of it is logged."""
    import requests

    fnr = synthetic_fnr(__import__("datetime").date(2001, 5, 17))
    participant = make_participant()
    task = make_task(participant)
    headers = login_as(participant)
    token = headers["Authorization"].split()[1]
    server = Server(app)
    try:
        base = server.url
        for url in (
            f"{base}/v1/me?pid={fnr}&access_token={token}",
            f"{base}/v1/questionnaires/{fnr}/versions/1",
            f"{base}/v1/me/tasks/{fnr}/draft?token={token}",
            f"{base}/auth/app/authorize?client_id={fnr}&state={token}",
        ):
            requests.get(url, headers={**headers, "X-Request-Id": fnr}, timeout=10).close()
        answers = {**TINY_ANSWERS, "TT21_TEKST": fnr[:11]}
        requests.post(
            f"{base}/v1/me/tasks/{task.id}/submission",
            json={"submission_id": str(uuid.uuid4()), "answers": answers, fnr: token},
            headers=headers,
            timeout=10,
        ).close()
        requests.post(f"{base}/auth/app/token", data={"refresh_token": token, "pid": fnr}, timeout=10).close()
    finally:
        server.close()
    text = log_lines.getvalue()
    assert "engagement.access" in text and "werkzeug" in text  # the request lines were logged...
    assert fnr not in text and fnr[6:] not in text  # ...without the number
    assert token not in text and token.split(".")[2] not in text  # ...or the token


def test_the_upstream_sid_of_a_front_channel_logout_is_not_logged(app, log_lines):
    """Whoever reads the log must not learn a session id that ends that person's sessions."""
    import requests

    sid = "upstream-sid-" + uuid.uuid4().hex
    server = Server(app)
    try:
        requests.get(
            f"{server.url}/auth/idporten/frontchannel-logout",
            params={"iss": "https://idporten.invalid", "sid": sid},
            timeout=10,
        ).close()
    finally:
        server.close()
    text = log_lines.getvalue()
    assert "frontchannel-logout" in text  # the request line was logged...
    assert sid not in text and sid[13:] not in text  # ...without the sid


def test_a_request_id_is_logged_as_the_client_was_given_it(client, log_lines):
    """The id in the log line is the id in the response, also when the client sent one holding a
    number the redaction would rewrite (the service replaces it with one of its own)."""
    fnr = synthetic_fnr(__import__("datetime").date(2001, 5, 17))
    given = []
    for sent in (f"app-{fnr}", "app-7f3a9c21", None, None, None):
        response = client.get("/health/live", headers={"X-Request-Id": sent} if sent else {})
        given.append(response.headers["X-Request-Id"])
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines() if line.startswith("{")]
    logged = [e["request_id"] for e in entries if e["logger"] == "engagement.access"]
    assert logged == given
    assert given[0] != f"app-{fnr}" and fnr not in log_lines.getvalue()
    assert given[1] == "app-7f3a9c21"
