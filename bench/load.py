"""A launch day under gunicorn on PostgreSQL: every step of a participant's way, at 8, 32 and 128
concurrent clients, each step next to the same server's trivial authenticated endpoint (``GET /v1/me``).

Creates its own database (dropped at the end), migrates it, publishes questionnaires and consent
documents, and seeds per level as many participants as there are journeys: roster row, consent to every
purpose, one open ung18 v1 task, and a logged-in session (a session family with a refresh token, as a
finished ID-porten login leaves it: the login step itself needs the real ID-porten, so the journey
starts where the app does on launch day, by refreshing its tokens). Each simulated phone has its own
client address (``X-Forwarded-For`` behind ``ENGAGEMENT_TRUSTED_PROXIES=1``), so the per-address
``/auth`` limit applies as in production. Steps, each run as one phase by all clients:

    refresh   POST /auth/app/token (refresh_token grant: rotation, new access token)
    tasks     GET  /v1/me/tasks
    fetch     GET  /v1/questionnaires/ung18/versions/1 (4 in 5 with a current If-None-Match: 304)
    draft     PUT  /v1/me/tasks/{id}/draft twice (If-Match "empty", then the ETag it got back)
    submit    POST /v1/me/tasks/{id}/submission (complete, valid answers)

Device registration is not measured: there is no devices endpoint yet.

    .venv/bin/python bench/load.py [--levels 8,32,128] [--journeys 256] [--workers 4] [--threads 4]

Prints per level and step: requests/s, p50, p99, errors (any status other than the step's expected
ones), and the ratios to the baseline (rate step/baseline, p50 and p99 step/baseline).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from submissions import _admin, _free_port, in_threads, server_env, start_gunicorn  # noqa: E402

from engagement.dev.demo import ung18_answers  # noqa: E402

DATABASE = "engagement_bench_load"
CLIENT_ID = "moba-app"


class Phone:
    """One participant's app: its address, tokens and task."""

    def __init__(self, address: str, refresh: str, access: str, task: str) -> None:
        self.address, self.refresh, self.access, self.task = address, refresh, access, task
        self.draft_etag = '"empty"'


def seed(app: Any, count: int, start: int) -> list[Phone]:
    from engagement import clock
    from engagement.auth import sessions
    from engagement.consent import documents, ledger
    from engagement.extensions import db
    from engagement.participants.models import Participant
    from engagement.participants.services import coming_of_age
    from engagement.questionnaires import services
    from engagement.questionnaires.models import Task

    phones = []
    with app.test_request_context():
        version = services.get_version("ung18", 1)
        now = clock.now()
        document = documents.current_document(now)
        for i in range(start, start + count):
            person = Participant(
                id=uuid.uuid4(),
                cohort_person_id=f"L{i:08d}",
                pid_hash=uuid.uuid4().hex + uuid.uuid4().hex,
                birth_date=(now - timedelta(days=365 * 19 + 30)).date(),
            )
            db.session.add(person)
            db.session.flush()
            ledger.record_decisions(
                person.id,
                document,
                dict.fromkeys(document.purpose_codes, "yes"),
                coming_of_age(person.birth_date),
                ledger.Evidence(),
            )
            task = Task(
                id=uuid.uuid4(),
                participant_id=person.id,
                questionnaire_version_id=version.id,
                status="open",
                opens_at=now - timedelta(hours=1),
                due_at=now + timedelta(days=7),
                created_at=now,
            )
            db.session.add(task)
            family = sessions.open_session(
                kind="participant",
                client_id=CLIENT_ID,
                participant_id=person.id,
                upstream_issuer="https://idporten.invalid",
                upstream_sid=uuid.uuid4().hex,
                acr="idporten-loa-high",
                auth_time=now,
            )
            tokens = sessions._mint(family, None)  # what a finished login hands the app
            address = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            phones.append(Phone(address, tokens.refresh_token, tokens.access_token, str(task.id)))
        db.session.commit()
    return phones


def run_phase(base: str, phones: list[Phone], clients: int, step: Any) -> dict[str, Any]:
    """``step(session, base, phone)`` -> list of (status, seconds) for each phone, ``clients`` at a time."""
    wall, results = in_threads(phones, clients, lambda session, phone: step(session, base, phone))
    latencies = sorted(seconds for _, seconds in results)
    return {
        "rate": len(results) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "statuses": Counter(status for status, _ in results),
    }


def _timed(session: Any, method: str, url: str, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    response = session.request(method, url, timeout=60, **kwargs)
    return response, time.perf_counter() - started


def _auth(phone: Phone, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {phone.access}", "X-Forwarded-For": phone.address, **extra}


def step_me(session: Any, base: str, phone: Phone) -> list[tuple[int, float]]:
    response, seconds = _timed(session, "GET", f"{base}/v1/me", headers=_auth(phone))
    return [(response.status_code, seconds)]


def step_refresh(session: Any, base: str, phone: Phone) -> list[tuple[int, float]]:
    form = {"grant_type": "refresh_token", "refresh_token": phone.refresh, "client_id": CLIENT_ID}
    response, seconds = _timed(
        session, "POST", f"{base}/auth/app/token", data=form, headers={"X-Forwarded-For": phone.address}
    )
    if response.status_code == 200:
        body = response.json()
        phone.access, phone.refresh = body["access_token"], body["refresh_token"]
    return [(response.status_code, seconds)]


def step_tasks(session: Any, base: str, phone: Phone) -> list[tuple[int, float]]:
    response, seconds = _timed(session, "GET", f"{base}/v1/me/tasks", headers=_auth(phone))
    return [(response.status_code, seconds)]


ETAG: dict[str, str] = {}


def step_fetch(session: Any, base: str, phone: Phone) -> list[tuple[int, float]]:
    url = f"{base}/v1/questionnaires/ung18/versions/1?locale=nb"
    cached = int(phone.address.rsplit(".", 1)[1]) % 5 != 0 and "etag" in ETAG
    headers = _auth(phone, **({"If-None-Match": ETAG["etag"]} if cached else {}))
    response, seconds = _timed(session, "GET", url, headers=headers)
    if response.status_code == 200:
        ETAG["etag"] = response.headers["ETag"]
    return [(response.status_code, seconds)]


def step_draft(session: Any, base: str, phone: Phone) -> list[tuple[int, float]]:
    outcome = []
    answers = ung18_answers()
    for partial in (dict(list(answers.items())[:10]), dict(list(answers.items())[:25])):
        response, seconds = _timed(
            session,
            "PUT",
            f"{base}/v1/me/tasks/{phone.task}/draft",
            json={"answers": partial},
            headers=_auth(phone, **{"If-Match": phone.draft_etag}),
        )
        if response.status_code == 200:
            phone.draft_etag = response.headers["ETag"]
        outcome.append((response.status_code, seconds))
    return outcome


def step_submit(session: Any, base: str, phone: Phone) -> list[tuple[int, float]]:
    body = {"submission_id": str(uuid.uuid4()), "answers": ung18_answers()}
    response, seconds = _timed(
        session, "POST", f"{base}/v1/me/tasks/{phone.task}/submission", json=body, headers=_auth(phone)
    )
    return [(response.status_code, seconds)]


def step_device(session: Any, base: str, phone: Phone) -> list[tuple[int, float]]:
    body = {
        "kind": "fcm_token",
        "registration": f"bench-{phone.task}",
        "platform": "android",
        "app_version": "1.0.0",
        "language": "nb",
    }
    response, seconds = _timed(session, "POST", f"{base}/v1/me/devices", json=body, headers=_auth(phone))
    return [(response.status_code, seconds)]


STEPS = [
    ("refresh", step_refresh, {200}),
    ("device", step_device, {200, 201}),
    ("tasks", step_tasks, {200}),
    ("fetch", step_fetch, {200, 304}),
    ("draft", step_draft, {200}),
    ("submit", step_submit, {201}),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="8,32,128", help="concurrent clients, comma-separated")
    parser.add_argument("--journeys", type=int, default=256, help="participants per level")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]

    port = _free_port()
    env = server_env(DATABASE, port, args.threads, ENGAGEMENT_TRUSTED_PROXIES="1")
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DATABASE}")
    server = None
    report: list[str] = []
    try:
        os.environ.update(env)
        from engagement import create_app, migrate
        from engagement.consent.cli import publish_consent_documents
        from engagement.extensions import db
        from engagement.questionnaires import services

        app = create_app()
        with app.app_context():
            migrate.upgrade("head")
            services.publish_all(ROOT / "questionnaires")
            publish_consent_documents()
            db.session.commit()
        phones_per_level = {}
        for n, clients in enumerate(levels):
            phones_per_level[clients] = seed(app, args.journeys, n * args.journeys)
        warmup = seed(app, 64, len(levels) * args.journeys)
        app.extensions["engagement.db"].dispose()

        server, base = start_gunicorn(env, port, args.workers, args.threads, "--backlog", "2048")
        for _name, step, _ok in [("me", step_me, {200}), *STEPS]:
            run_phase(base, warmup, 8, step)

        report.append(
            f"gunicorn {args.workers} workers x {args.threads} threads, {args.journeys} participants per level, "
            f"{os.cpu_count()} CPUs, PostgreSQL on loopback"
        )
        for clients in levels:
            phones = phones_per_level[clients]
            floor = run_phase(base, phones, clients, step_me)
            report.append(
                f"\n{clients} clients   baseline GET /v1/me: {floor['rate']:7.1f} req/s  p50 {floor['p50']:6.1f} ms  "
                f"p99 {floor['p99']:6.1f} ms  errors {sum(v for k, v in floor['statuses'].items() if k != 200)}"
            )
            report.append(
                f"  {'step':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}   "
                f"{'rate/base':>9} {'p50/base':>9} {'p99/base':>9}   statuses"
            )
            for name, step, ok in STEPS:
                result = run_phase(base, phones, clients, step)
                errors = sum(v for k, v in result["statuses"].items() if k not in ok)
                report.append(
                    f"  {name:8} {result['rate']:8.1f} {result['p50']:8.1f} {result['p99']:8.1f} {errors:7d}   "
                    f"{result['rate'] / floor['rate']:9.2f} {result['p50'] / floor['p50']:9.2f} "
                    f"{result['p99'] / floor['p99']:9.2f}   {dict(result['statuses'])}"
                )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    print("\n".join(report))


if __name__ == "__main__":
    main()
