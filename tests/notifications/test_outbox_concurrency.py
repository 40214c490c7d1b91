"""Workers that race and workers that die: never the same reminder twice from two live workers, and
nothing lost when a worker is killed between sending and recording (real commits, real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.extensions import db
from engagement.waves.models import Reminder, ReminderAttempt
from notifications.sender import FcmSender
from notifications.worker import Worker
from tests.conftest import ROOT
from tests.fakes.fcm_server import FakeFcm
from tests.waves.conftest import ALL_DAY

pytestmark = pytest.mark.committing


@pytest.fixture
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as server:
        reply = server._reply_for

        def slow(body):  # every send takes a little while, so batches overlap and a kill lands mid-batch
            time.sleep(0.02)
            return reply(body)

        server._reply_for = slow  # type: ignore[method-assign]
        assert server._server is not None
        server._server.handle_error = lambda *_: None  # a killed client resets its connections
        yield server


def _people_in_a_wave(app, make_participant, add_device, make_wave, n: int) -> None:
    for i in range(n):
        add_device(make_participant(age=19), f"fid-person-{i:04d}")
    make_wave(policy={**ALL_DAY, "offsets_days": [0]})
    with app.app_context():
        Worker(app, _NoSender(), name="planner").plan()
        # due a minute ago, whatever the real time of day
        db.session.execute(sa.update(Reminder).values(due_at=clock.now() - timedelta(minutes=1)))
        db.session.commit()


class _NoSender:
    max_batch = 500

    def send(self, messages):  # pragma: no cover - the planner never sends
        raise AssertionError("planning sends nothing")

    def close(self) -> None:
        return None


def _statuses(app) -> Counter[str]:
    with app.app_context():
        return Counter(db.session.scalars(sa.select(Reminder.status)))


def test_two_workers_never_send_the_same_reminder_twice(app, fcm, make_participant, add_device, make_wave):
    n = 120
    _people_in_a_wave(app, make_participant, add_device, make_wave, n)
    senders = [FcmSender(project_id="moba-test", credentials="static", endpoint=fcm.url) for _ in range(3)]
    workers = [Worker(app, s, name=f"racer-{i}", batch=10) for i, s in enumerate(senders)]
    threads = [threading.Thread(target=w.run_once) for w in workers]  # one session (connection) each
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in senders:
        s.close()
    hits = Counter(c.target for c in fcm.calls)
    assert len(hits) == n and set(hits.values()) == {1}, [t for t, k in hits.items() if k > 1]
    assert _statuses(app) == Counter({"sent": n})
    with app.app_context():
        by_worker = Counter(db.session.scalars(sa.select(ReminderAttempt.worker)))
    assert sum(by_worker.values()) == n and len(by_worker) >= 2  # they really shared the work


def test_a_worker_killed_mid_batch_loses_no_reminder(
    app, fcm, database_url, make_participant, add_device, make_wave
):
    n, batch = 60, 10
    _people_in_a_wave(app, make_participant, add_device, make_wave, n)
    env = {
        **os.environ,
        "ENGAGEMENT_ENV": "test",
        "ENGAGEMENT_DATABASE_URL": database_url,
        "ENGAGEMENT_FCM_CREDENTIALS": "static",
        "ENGAGEMENT_FCM_PROJECT_ID": "moba-test",
        "ENGAGEMENT_FCM_ENDPOINT": fcm.url,
        "ENGAGEMENT_REMINDER_BATCH": str(batch),
        "ENGAGEMENT_LOG_LEVEL": "WARNING",
    }
    victim = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "reminders", "run", "--once"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(fcm.calls) < batch + batch // 2 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)  # mid-way through its second batch: sent, not recorded
    victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    before = Counter(c.target for c in fcm.calls)
    assert 0 < sum(before.values()) < n
    stuck = _statuses(app)["sending"]
    assert stuck > 0  # claimed by the dead worker

    # its lease runs out; another worker takes the rows over
    sender = FcmSender(project_id="moba-test", credentials="static", endpoint=fcm.url)
    survivor = Worker(app, sender, name="survivor", batch=batch, lease=timedelta(minutes=5))
    with clock.frozen(clock.now() + timedelta(seconds=int(app.config["REMINDER_LEASE_SECONDS"]) + 1)):
        survivor.run_once()
    sender.close()
    hits = Counter(c.target for c in fcm.calls)
    assert _statuses(app) == Counter({"sent": n})
    assert len(hits) == n  # nothing lost
    duplicates = sum(k - 1 for k in hits.values())
    # at-least-once: only what the dead worker had sent and not recorded goes out again, at most a batch
    assert duplicates <= batch, duplicates
    print(f"\nkilled mid-batch: {stuck} rows in flight, {duplicates} sent twice (bound: one batch = {batch})")
