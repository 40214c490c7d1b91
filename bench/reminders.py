"""Reminder dispatch throughput against firebase-admin's ``send_each`` alone (not a test).

Starts the fast local FCM-compatible endpoint (``tests.fakes.fcm_fast``) in separate processes, so client
and server do not share a GIL, then sends the same N messages twice: once with ``messaging.send_each``
alone (the baseline: pre-built messages, batches of ``--batch``, a connection pool sized for the batch),
once through a dispatch path of ours. It prints both rates and their ratio (target >= 0.5).

    .venv/bin/python bench/reminders.py                 # 100,000 messages through FcmSender
    .venv/bin/python bench/reminders.py --messages 20000 --batch 100 --mix

A dispatch path is a function ``(endpoint, pushes, batch) -> Result`` registered in ``PATHS``;
``--path outbox`` runs the reminder worker itself on PostgreSQL (claim, check, send, record).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import firebase_admin  # noqa: E402
import requests.adapters  # noqa: E402
from firebase_admin import _http_client, messaging  # noqa: E402

from notifications.sender import FcmSender, PushMessage, StaticCredential, to_fcm_message  # noqa: E402

PROJECT = "bench"


@dataclass
class Result:
    seconds: float
    outcomes: Counter[str]

    def rate(self, n: int) -> float:
        return n / self.seconds


def make_pushes(n: int, mix: bool) -> list[PushMessage]:
    """N reminders to distinct installations; with ``mix``, 2 % unregistered and 1 % unavailable."""
    pushes = []
    for i in range(n):
        registration = f"fid-bench-{i:07d}"
        if mix and i % 50 == 7:
            registration = f"unregistered-{i:07d}"
        elif mix and i % 100 == 13:
            registration = f"unavailable-{i:07d}"
        pushes.append(
            PushMessage(
                registration=registration,
                kind="fid",
                title="MoBa",
                body="Du har et nytt spørreskjema i MoBa-appen.",
                data={"outbox_id": f"{i}", "task_id": f"t{i}"},
                collapse_key="q-young-adult",
            )
        )
    return pushes


def baseline_send_each(endpoint: str, pushes: Sequence[PushMessage], batch: int) -> Result:
    """firebase-admin alone: ``send_each`` over pre-built messages, nothing else."""
    app = firebase_admin.initialize_app(StaticCredential(), {"projectId": PROJECT}, name="bench-baseline")
    service = messaging._get_messaging_service(app)
    service._fcm_url = f"{endpoint}/v1/projects/{PROJECT}/messages:send"
    # the SDK's own retry policy, with a pool as large as the SDK gives Google's host
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=batch, max_retries=_http_client.DEFAULT_RETRY_CONFIG)
    service._client.session.mount(endpoint, adapter)
    built = [to_fcm_message(p) for p in pushes]
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for start in range(0, len(built), batch):
        response = messaging.send_each(built[start : start + batch], app=app)
        outcomes["sent"] += response.success_count
        outcomes["error"] += response.failure_count
    seconds = time.perf_counter() - started
    service._client.session.close()
    firebase_admin.delete_app(app)
    return Result(seconds, outcomes)


def via_fcm_sender(endpoint: str, pushes: Sequence[PushMessage], batch: int) -> Result:
    """Our sender: builds each firebase message, sends, classifies every outcome."""
    sender = FcmSender(project_id=PROJECT, credentials="static", endpoint=endpoint, max_batch=batch)
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for start in range(0, len(pushes), batch):
        outcomes.update(o.kind for o in sender.send(pushes[start : start + batch]))
    seconds = time.perf_counter() - started
    sender.close()
    return Result(seconds, outcomes)


def via_outbox(endpoint: str, pushes: Sequence[PushMessage], batch: int) -> Result:
    """The whole worker path on PostgreSQL: claim due outbox rows (SKIP LOCKED), check each again
    (task, wave, consent, window, caps, devices), render, send through FcmSender, record every attempt.

    Set-up (not timed): a fresh database ``engagement_bench_reminders`` with one participant, one
    device (the push's registration), one open task and one due reminder per push; dropped afterwards.
    """
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT / "bench"))
    import waves as wave_bench  # bench/waves.py: database set-up shared with the wave benchmark

    from engagement.extensions import db
    from notifications.worker import Worker

    database = "engagement_bench_reminders"
    wave_bench.DATABASE, wave_bench.URL = database, wave_bench.URL.rsplit("/", 1)[0] + "/" + database
    app = wave_bench.prepare_database(len(pushes))
    try:
        with app.app_context():
            wave_id = wave_bench.new_wave("ung18", 1, policy={"window": {"start": "00:00", "end": "23:59"},
                                                          "quiet_hours": [], "min_gap_hours": 0})  # fmt: skip
            wave_bench.baseline(wave_id)  # one task per participant, as a launch would
            db.session.execute(sa.text("UPDATE wave SET status = 'launched' WHERE id = :w"), {"w": wave_id})
            db.session.execute(
                sa.text(
                    "INSERT INTO device (id, participant_id, kind, registration, registration_hash, platform,"
                    " is_active, last_seen_at, created_at)"
                    " SELECT gen_random_uuid(), id, 'fid', reg, md5(reg) || md5(reg || 'x'), 'android', true,"
                    " now(), now() FROM (SELECT id, row_number() OVER (ORDER BY cohort_person_id) AS n"
                    " FROM participant) AS numbered JOIN unnest(CAST(:registrations AS text[]))"
                    " WITH ORDINALITY AS r(reg, n) USING (n)"
                ),
                {"registrations": [p.registration for p in pushes]},
            )
            db.session.execute(
                sa.text(
                    "INSERT INTO reminder (id, task_id, sequence, wave_id, participant_id, status, planned_at,"
                    " due_at, deadline_at, attempts, created_at) SELECT gen_random_uuid(), id, 1, wave_id,"
                    " participant_id, 'pending', now() - interval '1 minute', now() - interval '1 minute',"
                    " now() + interval '1 day', 0, now() FROM task"
                )
            )
            db.session.commit()
            db.session.remove()
        sender = FcmSender(project_id=PROJECT, credentials="static", endpoint=endpoint, max_batch=batch)
        worker = Worker(app, sender, name="bench", batch=batch)
        outcomes: Counter[str] = Counter()
        started = time.perf_counter()
        while worker.dispatch_batch():
            pass
        seconds = time.perf_counter() - started
        sender.close()
        with app.app_context():
            for status, count in db.session.execute(
                sa.text("SELECT status, count(*) FROM reminder GROUP BY status")
            ):
                outcomes[status] = int(count)
            db.session.remove()
        app.extensions["engagement.db"].dispose()
    finally:
        wave_bench.recreate_database(drop_only=True)
    return Result(seconds, outcomes)


PATHS: dict[str, Callable[[str, Sequence[PushMessage], int], Result]] = {
    "fcm_sender": via_fcm_sender,
    "outbox": via_outbox,
}


def start_server(processes: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fcm_fast", "--processes", str(processes)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"the fake endpoint did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="messages per send_each call (at most 500)")
    parser.add_argument("--path", choices=sorted(PATHS), default="fcm_sender")
    parser.add_argument("--server-processes", type=int, default=max(1, min(3, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--mix", action="store_true", help="include unregistered and unavailable targets")
    args = parser.parse_args()

    pushes = make_pushes(args.messages, args.mix)
    server, endpoint = start_server(args.server_processes)
    try:
        # warm up both paths (connections, imports) on a small slice, then measure
        baseline_send_each(endpoint, pushes[: args.batch], args.batch)
        if args.path != "outbox":  # the outbox path sets up its own database each time
            PATHS[args.path](endpoint, pushes[: args.batch], args.batch)
        base = baseline_send_each(endpoint, pushes, args.batch)
        ours = PATHS[args.path](endpoint, pushes, args.batch)
    finally:
        server.terminate()
        server.wait(timeout=10)

    n = len(pushes)
    print(f"messages: {n:,}  batch: {args.batch}  server processes: {args.server_processes}  mix: {args.mix}")
    print(f"send_each alone : {base.seconds:7.2f} s  {base.rate(n):8.0f} msg/s  {dict(base.outcomes)}")
    print(f"{args.path:<16}: {ours.seconds:7.2f} s  {ours.rate(n):8.0f} msg/s  {dict(ours.outcomes)}")
    print(f"ratio (ours / send_each): {ours.rate(n) / base.rate(n):.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
