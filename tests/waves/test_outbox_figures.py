"""The outbox as staff see it: rows per status, failed attempts per class and day, devices taken out of use."""

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from engagement import clock
from engagement.devices import services as devices
from engagement.extensions import db
from engagement.questionnaires.models import Task
from engagement.waves import figures as wave_figures
from engagement.waves.models import Reminder, ReminderAttempt

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _reminders(app, wave, statuses):
    with app.app_context():
        tasks = db.session.execute(
            sa.select(Task.id, Task.participant_id).where(Task.wave_id == wave.id)
        ).all()
        rows = []
        for (task_id, participant_id), status in zip(tasks, statuses, strict=False):
            row = Reminder(
                id=uuid.uuid4(), task_id=task_id, sequence=1, wave_id=wave.id, participant_id=participant_id,
                status=status, planned_at=NOW, due_at=NOW, deadline_at=NOW + timedelta(days=1),
            )  # fmt: skip
            db.session.add(row)
            rows.append(row.id)
        db.session.commit()
        return rows


def _attempt(reminder_id, outcome, at):
    db.session.add(
        ReminderAttempt(reminder_id=reminder_id, attempt=1, worker="w1", attempted_at=at, outcome=outcome)
    )


def test_outbox_counts_rows_per_status_and_failures_per_oslo_day_and_class(app, make_participant, make_wave):
    with clock.frozen(NOW):
        for _ in range(4):
            make_participant(age=20)
        wave = make_wave()
    ids = _reminders(app, wave, ["sent", "failed", "failed", "pending"])
    with app.app_context():
        _attempt(ids[0], "sent", NOW)
        _attempt(ids[1], "backoff", NOW)
        _attempt(ids[1], "failed", NOW + timedelta(hours=1))
        # 23:30 UTC on 10 March is 00:30 on 11 March in Oslo (winter time)
        _attempt(ids[2], "failed", datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
        _attempt(ids[2], "failed", NOW - timedelta(days=30))  # before the window
        db.session.commit()
        counts = wave_figures.outbox_by_status()
        failures = wave_figures.failures_by_class(NOW - timedelta(days=7), NOW + timedelta(days=1))
    assert counts == {"pending": 1, "sending": 0, "sent": 1, "skipped": 0, "cancelled": 0, "failed": 2}
    assert failures == [
        {"date": date(2026, 3, 10), "class": "backoff", "attempts": 1},
        {"date": date(2026, 3, 10), "class": "failed", "attempts": 1},
        {"date": date(2026, 3, 11), "class": "failed", "attempts": 1},
    ]


def test_deactivated_devices_are_counted_per_day_and_reason(app, make_participant, add_device):
    with clock.frozen(NOW):
        person = make_participant(age=20)
        gone = [add_device(person, f"registration-{i}") for i in range(3)]
        add_device(person, "still-in-use")
    with app.app_context():
        devices.deactivate(gone[:2], "unregistered", NOW)
        devices.deactivate(gone[2:], "sender_id_mismatch", NOW + timedelta(days=1))
        db.session.commit()
        found = devices.deactivations(NOW - timedelta(days=1), NOW + timedelta(days=2))
        only_first_day = devices.deactivations(NOW - timedelta(days=1), NOW + timedelta(hours=1))
    assert found == [
        {"date": date(2026, 3, 10), "reason": "unregistered", "devices": 2},
        {"date": date(2026, 3, 11), "reason": "sender_id_mismatch", "devices": 1},
    ]
    assert only_first_day == found[:1]
