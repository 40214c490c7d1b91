"""PostgreSQL becomes unreachable while participants submit: 503 problem+json with Retry-After during
the outage, recovery without restarting the service, and every acknowledged submission is stored.

The service runs under gunicorn and reaches PostgreSQL through a TCP proxy that the test cuts and
restores; the machine's PostgreSQL server itself is never touched."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from engagement.extensions import db
from engagement.questionnaires.models import Response, Task
from tests.fakes.tcp_proxy import TcpProxy
from tests.hardening.gunicorn import gunicorn
from tests.questionnaires.conftest import TINY_ANSWERS

pytestmark = pytest.mark.committing

PARTICIPANTS = 4
TASKS_EACH = 6
CLIENTS = 6
OUTAGE_SECONDS = 1.5
DEADLINE_SECONDS = 60


@pytest.fixture
def postgres_only(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the outage is PostgreSQL's")


def test_submissions_during_a_database_outage_get_503_and_every_acknowledged_one_is_stored(
    postgres_only, app, database_url, make_participant, make_task, login_as, tmp_path
):
    jobs: list[tuple[dict[str, str], str]] = []
    for _ in range(PARTICIPANTS):
        participant = make_participant()
        headers = login_as(participant)
        jobs += [(headers, str(make_task(participant).id)) for _ in range(TASKS_EACH)]
    key_file = tmp_path / "signing-key.json"
    key_file.write_text(json.dumps(app.extensions["engagement.token_keys"].signing.as_dict(private=True)))
    url = sa.engine.make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    settings = {
        "DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        "TOKEN_SIGNING_KEY": str(key_file),
        "PUBLIC_URL": app.config["PUBLIC_URL"],
        "DB_POOL_TIMEOUT": "2",
        "LOG_LEVEL": "ERROR",
    }
    attempts: list[tuple[str, int, str, str | None]] = []  # task, status, content type, Retry-After
    acknowledged: dict[str, str] = {}  # task -> submission_id answered 2xx
    lock = threading.Lock()
    queue = list(jobs)
    deadline = time.monotonic() + DEADLINE_SECONDS

    def client(base: str) -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                if not queue:
                    break
                headers, task_id = queue.pop()
            body = {"submission_id": str(uuid.uuid4()), "answers": TINY_ANSWERS}
            while time.monotonic() < deadline:  # retry the same submission until it is acknowledged
                try:
                    response = session.post(
                        f"{base}/v1/me/tasks/{task_id}/submission", json=body, headers=headers, timeout=15
                    )
                except requests.RequestException:
                    time.sleep(0.05)
                    continue
                with lock:
                    attempts.append(
                        (
                            task_id,
                            response.status_code,
                            response.headers.get("Content-Type", ""),
                            response.headers.get("Retry-After"),
                        )
                    )
                response.close()
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged[task_id] = body["submission_id"]
                    break
                time.sleep(0.05)
        session.close()

    try:
        with gunicorn(settings, workers=2, threads=4) as base:
            threads = [threading.Thread(target=client, args=(base,)) for _ in range(CLIENTS)]
            for thread in threads:
                thread.start()
            while len(acknowledged) < len(jobs) // 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            proxy.cut()
            cut_at = len(attempts)
            time.sleep(OUTAGE_SECONDS)
            during = attempts[cut_at:]
            proxy.restore()
            for thread in threads:
                thread.join(timeout=DEADLINE_SECONDS)
            with requests.get(f"{base}/health/ready", timeout=10) as ready:
                assert ready.status_code == 200  # recovered, same processes
    finally:
        proxy.close()

    statuses = Counter(status for _, status, _, _ in attempts)
    assert set(statuses) <= {200, 201, 503}, statuses
    outage = [a for a in during if a[1] == 503]
    assert outage, f"no request saw the outage: {Counter(a[1] for a in during)}"
    assert all(ct.startswith("application/problem+json") and retry for _, _, ct, retry in outage)
    assert len(acknowledged) == len(jobs)  # every client got through after the outage
    with app.app_context():
        stored = dict(db.session.execute(sa.select(Response.task_id, Response.submission_id)).all())
        submitted = db.session.scalar(sa.select(sa.func.count()).where(Task.status == "submitted"))
    for task_id, submission_id in acknowledged.items():
        assert str(stored[uuid.UUID(task_id)]) == submission_id
    assert submitted == len(jobs)
