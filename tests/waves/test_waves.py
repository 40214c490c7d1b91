"""Waves: eligibility by birthday in Europe/Oslo, a set-based idempotent launch, rolling additions,
closing, statistics (JSON and CSV) and the coordinator API."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from engagement import clock
from engagement.clock import OSLO
from engagement.consent import ledger
from engagement.extensions import db
from engagement.participants.services import adult_from, age_on
from engagement.questionnaires.models import Task
from engagement.waves import services as waves
from engagement.waves.models import Reminder
from tests.conftest import consent_to_everything, problem

COORDINATOR = ("coordinator",)


def _tasks(app, wave_id) -> list[Task]:
    wave_id = uuid.UUID(str(wave_id))
    with app.app_context():
        return list(db.session.scalars(sa.select(Task).where(Task.wave_id == wave_id)))


def test_birth_date_bounds_agree_with_age_on_every_day_around_the_leap_day():
    for day in [date(2027, 2, 28), date(2028, 2, 29), date(2028, 3, 1), date(2026, 12, 31)]:
        latest = waves.latest_birth_for_age(18, day)
        assert age_on(latest, day) >= 18
        assert age_on(latest + timedelta(days=1), day) < 18
    rule = waves.Eligibility.from_dict({"kind": "turns_18_between", "from": "2027-03-01", "to": "2027-03-31"})
    low, high = rule.birth_dates(date(2030, 1, 1))
    assert low is not None
    births = [
        low - timedelta(days=1),
        low,
        high,
        high + timedelta(days=1),
        date(2008, 2, 29),
        date(2009, 2, 28),
    ]
    for birth in births:
        inside = low <= birth <= high
        assert inside == (date(2027, 3, 1) <= adult_from(birth) <= date(2027, 3, 31)), birth


def test_launch_creates_one_task_per_eligible_person_and_launching_again_creates_nothing(
    app, client, login_as, make_participant, seed_version
):
    adult = make_participant(age=19)
    make_participant(age=17)  # too young
    make_participant(age=20, consented=False)  # never consented
    withdrawn = make_participant(age=21)
    with app.test_request_context():
        ledger.record_withdrawal(withdrawn.id, "no_contact", clock.now(), ledger.Evidence())
        db.session.commit()
    staff = login_as(staff=COORDINATOR)
    now = clock.now()
    body = {
        "name": "Young adults 2026",
        "questionnaire_key": "ung18",
        "questionnaire_version": 1,
        "eligibility": {"kind": "age", "min_age": 18, "max_age": 25},
        "opens_at": now.isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
        "reminder_policy": {"offsets_days": [0, 3]},
    }
    created = client.post("/v1/admin/waves", json=body, headers=staff)
    assert created.status_code == 201, created.get_json()
    wave_id = created.get_json()["id"]
    assert created.get_json()["status"] == "draft"

    preview = client.get(f"/v1/admin/waves/{wave_id}/preview", headers=staff).get_json()
    assert preview["eligible"] == 1 and preview["tasks"] == 0
    assert [s["participant_id"] for s in preview["sample"]] == [str(adult.id)]

    first = client.post(f"/v1/admin/waves/{wave_id}/launch", headers=staff).get_json()
    assert first["created"] == 1 and first["status"] == "launched" and first["launched_count"] == 1
    second = client.post(f"/v1/admin/waves/{wave_id}/launch", headers=staff).get_json()
    assert second["created"] == 0
    tasks = _tasks(app, wave_id)
    assert [t.participant_id for t in tasks] == [adult.id]
    assert tasks[0].status == "open" and tasks[0].due_at is not None


def test_wave_creation_refuses_a_bad_policy_dates_and_purposes(client, login_as, seed_version):
    staff = login_as(staff=COORDINATOR)
    now = clock.now()
    body = {
        "name": "bad",
        "questionnaire_key": "ung18",
        "questionnaire_version": 1,
        "eligibility": {"kind": "age", "min_age": 18},
        "opens_at": now.isoformat(),
        "closes_at": (now - timedelta(days=1)).isoformat(),
        "required_purposes": ["astrology"],
        "reminder_policy": {"weekly_cap": 0},
    }
    errors = problem(client.post("/v1/admin/waves", json=body, headers=staff), 422, "wave-invalid")["errors"]
    assert set(errors) >= {"closes_at", "reminder_policy", "required_purposes"}


def test_participants_cannot_reach_wave_administration(client, login_as, make_participant):
    headers = login_as(make_participant())
    assert client.post("/v1/admin/waves", json={}, headers=headers).status_code == 403


def test_rolling_wave_picks_up_a_person_on_their_18th_birthday(app, make_participant, make_wave):
    today = clock.now().astimezone(OSLO).date()
    birthday = today + timedelta(days=2)
    teen = make_participant(birth_date=date(birthday.year - 18, birthday.month, min(birthday.day, 28)))
    wave = make_wave(
        rolling=True,
        eligibility={
            "kind": "turns_18_between",
            "from": str(today - timedelta(days=400)),
            "to": str(today + timedelta(days=60)),
        },
    )
    assert _tasks(app, wave.id) == []
    later = datetime.combine(adult_from(teen.birth_date), datetime.min.time(), tzinfo=OSLO) + timedelta(
        hours=10
    )
    with clock.frozen(later.astimezone(UTC)), app.app_context():
        consent_to_everything(teen)
        assert waves.refresh(clock.now()) == {wave.id: 1}
        assert waves.refresh(clock.now()) == {wave.id: 0}
        db.session.commit()
    (task,) = _tasks(app, wave.id)
    assert task.participant_id == teen.id and task.opens_at >= later


def test_closing_expires_open_tasks_and_cancels_pending_reminders(
    app, client, login_as, make_participant, make_wave
):
    make_participant(age=19)
    wave = make_wave(policy={"offsets_days": [0, 3]})
    with app.app_context():
        from notifications.outbox import plan

        assert plan(clock.now()).planned == 2
        db.session.commit()
    staff = login_as(staff=COORDINATOR)
    closed = client.post(f"/v1/admin/waves/{wave.id}/close", headers=staff).get_json()
    assert (
        closed["status"] == "closed" and closed["tasks_expired"] == 1 and closed["reminders_cancelled"] == 2
    )
    (task,) = _tasks(app, wave.id)
    assert task.status == "expired" and task.closed_reason == "wave_closed"
    with app.app_context():
        assert set(db.session.scalars(sa.select(Reminder.status).where(Reminder.wave_id == wave.id))) == {
            "cancelled"
        }
    problem(client.post(f"/v1/admin/waves/{wave.id}/launch", headers=staff), 409, "wave-closed")
    again = client.post(f"/v1/admin/waves/{wave.id}/close", headers=staff).get_json()
    assert again["tasks_expired"] == 0


def test_launching_a_closed_draft_is_refused(client, login_as, make_wave, frozen_now):
    wave = make_wave(launch=False)
    with frozen_now(clock.now() + timedelta(days=31)):
        staff = login_as(staff=COORDINATOR)
        problem(client.post(f"/v1/admin/waves/{wave.id}/launch", headers=staff), 409, "wave-closed")


def test_stats_count_each_stage_per_day_and_as_csv(app, client, login_as, make_participant, make_wave):
    people = [make_participant(age=19) for _ in range(3)]
    wave = make_wave()
    now = clock.now()
    with app.app_context():
        tasks = list(
            db.session.scalars(sa.select(Task).where(Task.wave_id == wave.id).order_by(Task.participant_id))
        )
        tasks[0].status, tasks[0].started_at, tasks[0].submitted_at = "submitted", now, now
        tasks[1].status, tasks[1].started_at = "in_progress", now
        reminder = Reminder(
            task_id=tasks[2].id, sequence=1, wave_id=wave.id, participant_id=tasks[2].participant_id,
            status="sent", planned_at=now, due_at=now, deadline_at=now, sent_at=now, opened_at=now,
        )  # fmt: skip
        db.session.add(reminder)
        db.session.commit()
    staff = login_as(staff=COORDINATOR)
    figures = client.get(f"/v1/admin/waves/{wave.id}/stats", headers=staff).get_json()
    assert {k: figures[k] for k in ("eligible", "tasks", "reminded", "opened", "started", "submitted")} == {
        "eligible": 3, "tasks": 3, "reminded": 1, "opened": 1, "started": 2, "submitted": 1,
    }  # fmt: skip
    assert figures["response_rate"] == round(1 / 3, 4)
    today = now.astimezone(OSLO).date().isoformat()
    assert figures["daily"] == [
        {"date": today, "tasks": 3, "reminded": 1, "opened": 1, "started": 2, "submitted": 1}
    ]
    csv = client.get(f"/v1/admin/waves/{wave.id}/stats?format=csv", headers=staff)
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines() == [
        "date,tasks,reminded,opened,started,submitted",
        f"{today},3,1,1,2,1",
    ]
    csv.close()
    assert len(people) == 3
