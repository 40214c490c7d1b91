"""Submissions per second under gunicorn on PostgreSQL, against a trivial authenticated endpoint.

Creates its own database, migrates it, publishes the questionnaires, seeds participants with one
open task each, mints access tokens, starts gunicorn, and drives both endpoints with the same
number of concurrent clients (threads with keep-alive sessions). Prints requests/s, p50, p99 and the
ratio submissions/baseline. The baseline is ``GET /v1/questionnaires/ung18/versions/1`` with a
current ``If-None-Match``: authenticate, one indexed lookup, ``304``.

    .venv/bin/python bench/submissions.py [--clients 32] [--requests 2000] [--workers 4]

Target (issue): ratio >= 0.5 and p99 < 100 ms for submissions.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engagement.dev.demo import ung18_answers  # noqa: E402  (also used by bench/load.py and the tests)

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "engagement_bench_submissions"


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, threads: int, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """The app under gunicorn (gthread) on 127.0.0.1:``port``, ready; returns the process and base URL."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "--workers", str(workers),
        "--worker-class", "gthread",
        "--threads", str(threads),
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        *extra,
        "wsgi:app",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, server)
    return server, base


def server_env(database: str, port: int, threads: int, **settings: str) -> dict[str, str]:
    """The environment of a benchmarked server: development settings on ``database``, a fresh signing
    key, quiet logs, a pool per gunicorn thread, and any further ``ENGAGEMENT_*`` ``settings``."""
    sys.path.insert(0, str(ROOT))
    from engagement.security import generate_signing_key

    key_file = Path(tempfile.mkdtemp(prefix="bench-")) / "signing-key.json"
    key_file.write_text(json.dumps(generate_signing_key().as_dict(private=True)))
    return {
        **os.environ,
        "ENGAGEMENT_ENV": "development",
        "ENGAGEMENT_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        "ENGAGEMENT_TOKEN_SIGNING_KEY": str(key_file),
        "ENGAGEMENT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ENGAGEMENT_LOG_LEVEL": "WARNING",
        "ENGAGEMENT_DB_POOL_SIZE": str(threads + 1),
        **settings,
    }


def _default_limit_storage() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(16).startswith(b"+PONG"):
                return "redis://127.0.0.1:6379"
    except OSError:
        pass
    return "memory://"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _admin(sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(sql))
    engine.dispose()


def seed(env: dict[str, str], participants: int) -> tuple[list[tuple[str, str]], str]:
    """Migrate, publish, add participants with one open ung18 v1 task each; (token, task id) pairs."""
    from engagement import clock, create_app, migrate
    from engagement.auth import sessions
    from engagement.consent import documents, ledger
    from engagement.consent.cli import publish_consent_documents
    from engagement.extensions import db
    from engagement.participants.models import Participant
    from engagement.questionnaires import services
    from engagement.questionnaires.models import Task
    from engagement.security import issue_access_token

    os.environ.update(env)
    app = create_app()
    pairs = []
    with app.app_context():
        migrate.upgrade("head")
        with clock.frozen(datetime(2000, 1, 1, tzinfo=UTC)):
            publish_consent_documents()
        services.publish_all(ROOT / "questionnaires")
        version = services.get_version("ung18", 1)
        now = clock.now()
        people = [
            Participant(
                id=uuid.uuid4(),
                cohort_person_id=f"B{i:08d}",
                pid_hash=uuid.uuid4().hex + uuid.uuid4().hex,
                birth_date=(now - timedelta(days=365 * 19)).date(),
            )
            for i in range(participants)
        ]
        db.session.add_all(people)
        db.session.flush()
        tasks = [
            Task(
                id=uuid.uuid4(),
                participant_id=p.id,
                questionnaire_version_id=version.id,
                status="open",
                opens_at=now - timedelta(hours=1),
                due_at=now + timedelta(days=7),
                created_at=now,
            )
            for p in people
        ]
        db.session.add_all(tasks)
        document = documents.current_document(now)
        yes = dict.fromkeys(document.purpose_codes, "yes")
        with app.test_request_context():
            for person, task in zip(people, tasks, strict=True):
                ledger.record_decisions(person.id, document, yes, now - timedelta(days=1), ledger.Evidence())
                family = sessions.open_session(
                    kind="participant",
                    client_id="bench",
                    participant_id=person.id,
                    upstream_issuer="https://idporten.invalid",
                    upstream_sid=uuid.uuid4().hex,
                    acr="idporten-loa-high",
                    auth_time=now,
                )
                pairs.append((issue_access_token(sessions.principal_for(family)), str(task.id)))
            db.session.commit()
        digest = version.content_hash
    app.extensions["engagement.db"].dispose()
    return pairs, f'"{digest}.nb"'


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux ``/proc``; 0 where it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


class CpuMeter:
    """Where the CPU of a run goes: this client, the gunicorn processes, and PostgreSQL (the bench
    database's backends and the WAL writer), so that a ratio can be read against what each side costs."""

    def __init__(self, server: subprocess.Popen[bytes]) -> None:
        self.server = server

    def snapshot(self) -> dict[str, float]:
        import resource

        import sqlalchemy as sa

        engine = sa.create_engine(ADMIN_URL)
        with engine.connect() as conn:
            backends = (
                conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = :db OR backend_type = 'walwriter'"
                    ),
                    {"db": DATABASE},
                )
                .scalars()
                .all()
            )
        engine.dispose()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        gunicorn = [self.server.pid, *_children(self.server.pid)]
        return {
            "client": usage.ru_utime + usage.ru_stime,
            "gunicorn": sum(_cpu_seconds(pid) for pid in gunicorn),
            "postgres": sum(_cpu_seconds(pid) for pid in backends),
        }


def in_threads(
    items: list[Any], clients: int, work: Callable[[Any, Any], list[tuple[int, float]]]
) -> tuple[float, list[tuple[int, float]]]:
    """``work(session, item)`` for every item from ``clients`` threads, each with its own keep-alive
    ``requests`` session; the wall time and every (status, seconds) the work returned."""
    import requests

    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    cursor = iter(items)

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                break
            outcome = work(session, item)
            with lock:
                results.extend(outcome)
        session.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, results


def drive(
    base: str,
    jobs: list[tuple[str, str, dict[str, str], bytes | None]],
    clients: int,
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    """Run ``jobs`` (method, path, headers, body) from ``clients`` threads; rate, latencies, statuses
    and, with a ``meter``, CPU milliseconds per request by side."""

    def one(session: Any, job: tuple[str, str, dict[str, str], bytes | None]) -> list[tuple[int, float]]:
        method, path, headers, body = job
        started = time.perf_counter()
        response = session.request(method, base + path, headers=headers, data=body, timeout=30)
        return [(response.status_code, time.perf_counter() - started)]

    before = meter.snapshot() if meter else {}
    wall, results = in_threads(jobs, clients, one)
    after = meter.snapshot() if meter else {}
    statuses: dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "wall": wall,
        "latencies": [seconds for _, seconds in results],
        "statuses": statuses,
        "cpu": {side: after[side] - before[side] for side in after},
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rate, p50, p99, statuses and CPU ms per request over several :func:`drive` runs of one kind."""
    ordered = sorted(latency for run in runs for latency in run["latencies"])
    statuses: dict[int, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    sides = runs[0]["cpu"].keys()
    return {
        "rate": len(ordered) / sum(run["wall"] for run in runs),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
        "statuses": statuses,
        "cpu_ms": {side: sum(run["cpu"][side] for run in runs) * 1000 / len(ordered) for side in sides},
    }


def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    import requests

    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit("gunicorn exited early")
        try:
            if requests.get(base + "/health/ready", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000, help="submissions (one task each)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--rounds", type=int, default=4, help="alternate baseline and submissions this often")
    parser.add_argument(
        "--rate-limit-storage",
        default=None,
        help="flask-limiter storage of the server (default: redis://127.0.0.1:6379 when a Redis answers "
        "there, as several gunicorn processes need one shared store; else memory://)",
    )
    args = parser.parse_args()
    storage = args.rate_limit_storage or _default_limit_storage()

    port = _free_port()
    env = server_env(DATABASE, port, args.threads, ENGAGEMENT_RATE_LIMIT_STORAGE=storage)
    _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    _admin(f"CREATE DATABASE {DATABASE}")
    server = None
    try:
        warmup = 200
        pairs, etag = seed(env, args.requests + warmup)
        server, base = start_gunicorn(env, port, args.workers, args.threads)

        body = json.dumps({"answers": ung18_answers()})

        def submission(token: str, task: str) -> tuple[str, str, dict[str, str], bytes]:
            payload = body[:-1] + f', "submission_id": "{uuid.uuid4()}"}}'
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            return ("POST", f"/v1/me/tasks/{task}/submission", headers, payload.encode())

        def baseline(token: str) -> tuple[str, str, dict[str, str], None]:
            headers = {"Authorization": f"Bearer {token}", "If-None-Match": etag}
            return ("GET", "/v1/questionnaires/ung18/versions/1?locale=nb", headers, None)

        drive(base, [submission(*p) for p in pairs[:warmup]], args.clients)
        drive(base, [baseline(t) for t, _ in pairs[:warmup]], args.clients)
        meter = CpuMeter(server)
        # Alternate the two kinds in rounds, so that whatever else the machine does in the meantime
        # weighs on both alike.
        measured, trivial_runs, submitted_runs = pairs[warmup:], [], []
        for round_ in range(args.rounds):
            chunk = measured[
                round_ * len(measured) // args.rounds : (round_ + 1) * len(measured) // args.rounds
            ]
            trivial_runs.append(drive(base, [baseline(t) for t, _ in chunk], args.clients, meter))
            submitted_runs.append(drive(base, [submission(*p) for p in chunk], args.clients, meter))
        trivial, submitted = summarise(trivial_runs), summarise(submitted_runs)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        _admin(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")

    print(f"gunicorn {args.workers} workers x {args.threads} threads, {args.clients} concurrent clients, "
          f"{args.requests} requests each, {os.cpu_count()} CPUs, rate limits in {storage}")  # fmt: skip
    for name, result in (("baseline (304, authenticated)", trivial), ("submission (201)", submitted)):
        print(
            f"{name:32} {result['rate']:8.1f} req/s   p50 {result['p50_ms']:6.1f} ms   "
            f"p99 {result['p99_ms']:6.1f} ms   statuses {result['statuses']}"
        )
        cpu = result["cpu_ms"]
        print(
            f"{'':32} CPU per request: client {cpu['client']:.2f} ms, gunicorn {cpu['gunicorn']:.2f} ms, "
            f"postgres {cpu['postgres']:.2f} ms"
        )
    print(f"ratio submissions/baseline: {submitted['rate'] / trivial['rate']:.2f}  (target >= 0.5)")
    print(f"submission p99: {submitted['p99_ms']:.1f} ms  (target < 100 ms)")


if __name__ == "__main__":
    main()
