"""The waves domain's figures for the console: coming of age, running waves, reminders, the wave list,
a preview's breakdown, a sample schedule, and responses by reminder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from engagement import clock
from engagement.clock import OSLO
from engagement.extensions import db
from engagement.questionnaires.models import Task
from engagement.waves import figures as wave_figures
from engagement.waves import services as waves
from engagement.waves.models import Reminder, ReminderAttempt, ReminderWorker


def test_coming_of_age_counts_the_roster_and_who_turned_18_this_month_quarter_and_ever(app, make_participant):
    with clock.frozen(datetime(2026, 5, 20, 10, tzinfo=UTC)):
        for born in (
            date(2008, 5, 10),
            date(2008, 4, 2),
            date(2008, 3, 31),
            date(2008, 5, 25),
            date(2000, 1, 1),
        ):
            make_participant(birth_date=born, consented=False)
        with app.app_context():
            figures = wave_figures.coming_of_age(date(2026, 5, 20))
    assert figures == {"roster": 5, "adults": 4, "this_month": 1, "this_quarter": 2}


def _reminder(task, sequence, sent_at, **fields):
    row = Reminder(
        task_id=task.id, sequence=sequence, wave_id=task.wave_id, participant_id=task.participant_id,
        status=fields.pop("status", "sent"), planned_at=sent_at, due_at=sent_at,
        deadline_at=sent_at + timedelta(hours=3), sent_at=sent_at, **fields,
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    return row


def _failed(task, due_at, attempted_at):
    """A first reminder that was never sent, its one attempt refused by FCM at ``attempted_at``."""
    row = _reminder(task, 1, due_at, status="failed")
    row.sent_at = None
    db.session.add(
        ReminderAttempt(
            reminder_id=row.id, attempt=1, worker="w", attempted_at=attempted_at, outcome="unregistered"
        )
    )


def test_running_waves_reminder_counts_and_responses_by_reminder(app, make_participant, make_wave):
    for _ in range(4):
        make_participant(age=20)
    running = make_wave(policy={"offsets_days": [1, 3]})
    make_wave(launch=False)  # a draft is not running
    now = clock.now()
    with app.app_context():
        tasks = db.session.scalars(sa.select(Task).where(Task.wave_id == running.id).order_by(Task.id)).all()
        assert len(tasks) == 4
        tasks[0].submitted_at = now  # before any reminder
        _reminder(tasks[1], 1, now - timedelta(days=2))
        tasks[1].submitted_at = now - timedelta(days=1)  # after the first
        _reminder(tasks[2], 1, now - timedelta(days=3), opened_at=now - timedelta(days=2))
        _reminder(tasks[2], 2, now - timedelta(days=1))
        tasks[2].submitted_at = now  # after the second
        _failed(tasks[3], now - timedelta(days=1), attempted_at=now - timedelta(hours=1))
        _reminder(tasks[3], 2, now - timedelta(days=10))  # outside the last 7 days
        # it failed before the last 7 days: not counted
        _failed(tasks[0], now - timedelta(days=9), attempted_at=now - timedelta(days=8))
        db.session.flush()
        assert (
            wave_figures.reminder_counts(now - timedelta(days=7))["worker_last_seen"] is None
        )  # none ever ran
        # the heartbeats, not the last delivery attempt: an idle worker was seen after that attempt
        for name, seen in (("idle", now - timedelta(minutes=5)), ("stopped", now - timedelta(days=2))):
            db.session.add(ReminderWorker(name=name, started_at=now - timedelta(days=3), last_seen_at=seen))
        db.session.flush()

        assert wave_figures.running_waves(now) == [
            {"id": running.id, "name": running.name, "closes_at": running.closes_at, "tasks": 4, "submitted": 3,
             "response_rate": 0.75}
        ]  # fmt: skip
        full, light = (
            wave_figures.stats(running.id, now),
            wave_figures.stats(running.id, now, count_eligible=False),
        )
        assert full["eligible"] == 4 and light["eligible"] is None
        assert {k: v for k, v in full.items() if k != "eligible"} == {
            k: v for k, v in light.items() if k != "eligible"
        }
        counts = wave_figures.reminder_counts(now - timedelta(days=7))
        assert (counts["sent"], counts["failed"], counts["opened"]) == (3, 1, 1)
        assert counts["worker_last_seen"] == now - timedelta(minutes=5)
        assert wave_figures.response_by_reminder(running.id) == [
            {"sequence": 0, "reminded": 0, "submitted_after": 1},
            {"sequence": 1, "reminded": 2, "submitted_after": 1},
            {"sequence": 2, "reminded": 2, "submitted_after": 1},
        ]
        db.session.rollback()


def test_the_wave_table_sorts_in_sql_with_task_counts(app, make_participant, make_wave):
    make_participant(age=20)
    launched = make_wave(name="b launched")
    draft = make_wave(name="a draft", launch=False)
    with app.app_context():
        query = wave_figures.waves_table()
        rows = db.session.execute(query.order_by(query.selected_columns["name"])).all()
    assert [(r.id, r.tasks, r.questionnaire_key) for r in rows] == [
        (draft.id, 0, "ung18"),
        (launched.id, 1, "ung18"),
    ]


def test_a_preview_breaks_down_by_age_language_and_consent_and_shows_a_sample_schedule_in_oslo(
    app, make_participant, make_wave
):
    make_participant(age=19, language="nb")
    make_participant(age=19, language="en")
    make_participant(age=22, language="nb")
    make_participant(age=17)
    draft = make_wave(launch=False, policy={"offsets_days": [0, 2], "window": {"start": "17:00", "end": "20:00"},
                                            "quiet_hours": []})  # fmt: skip
    at = datetime(2026, 3, 27, 8, tzinfo=UTC)  # the Friday before summer time starts
    with app.app_context():
        wave = waves.get_wave(draft.id)
        wave.opens_at, wave.closes_at = at, at + timedelta(days=20)
        breakdown = wave_figures.preview_breakdown(wave, clock.now())
        schedule = wave_figures.sample_schedule(wave, at)
        db.session.rollback()
    assert breakdown["eligible"] == 3 and breakdown["tasks"] == 0
    assert breakdown["by_age"] == {19: 2, 22: 1}
    assert breakdown["by_language"] == {"en": 1, "nb": 2}
    assert breakdown["by_consent"]["questionnaires"] == {"yes": 3, "no": 0}
    assert schedule is not None and schedule["time_zone"] == "Europe/Oslo"
    local = [r["send_at"].astimezone(OSLO) for r in schedule["reminders"]]
    # 17:00 in Oslo on both days, across the change from CET to CEST
    assert [(t.date().isoformat(), t.hour, t.utcoffset()) for t in local] == [
        ("2026-03-27", 17, timedelta(hours=1)),
        ("2026-03-29", 17, timedelta(hours=2)),
    ]


def test_stats_count_each_task_once_per_series_on_its_oslo_day(app, make_participant, make_wave):
    for _ in range(3):
        make_participant(age=20)
    wave = make_wave()
    late_evening = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 23:30 on 1 June in Oslo
    with app.app_context():
        tasks = db.session.scalars(sa.select(Task).where(Task.wave_id == wave.id).order_by(Task.id)).all()
        for task in tasks:
            task.created_at = late_evening
        tasks[0].submitted_at = datetime(2026, 6, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 June; never "started"
        tasks[1].started_at = datetime(2026, 6, 2, 10, tzinfo=UTC)
        _reminder(
            tasks[2],
            1,
            datetime(2026, 6, 1, 21, 45, tzinfo=UTC),
            opened_at=datetime(2026, 6, 3, 8, tzinfo=UTC),
        )
        _reminder(
            tasks[2],
            2,
            datetime(2026, 6, 2, 23, 30, tzinfo=UTC),
            opened_at=datetime(2026, 6, 2, 23, 40, tzinfo=UTC),
        )
        unsent = _reminder(tasks[1], 1, late_evening, status="pending")
        unsent.sent_at = None
        db.session.flush()
        figures = wave_figures.stats(wave.id, datetime(2026, 6, 4, tzinfo=UTC), count_eligible=False)
        db.session.rollback()
    assert {k: figures[k] for k in ("tasks", "reminded", "opened", "started", "submitted")} == {
        "tasks": 3, "reminded": 1, "opened": 1, "started": 2, "submitted": 1,
    }  # fmt: skip
    assert figures["daily"] == [
        {"date": date(2026, 6, 1), "tasks": 3, "reminded": 1, "opened": 0, "started": 0, "submitted": 0},
        {"date": date(2026, 6, 2), "tasks": 0, "reminded": 0, "opened": 0, "started": 2, "submitted": 1},
        {"date": date(2026, 6, 3), "tasks": 0, "reminded": 0, "opened": 1, "started": 0, "submitted": 0},
    ]
