"""The reminder outbox and worker, sending through firebase-admin's real code path to a local
FCM-compatible endpoint: every FCM error, quiet hours, the window across DST, the weekly cap, and the
reminders stopping on submission, withdrawal and close."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from engagement import clock
from engagement.consent import ledger
from engagement.devices.models import Device
from engagement.extensions import db
from engagement.questionnaires.models import Task
from engagement.waves import services as waves
from engagement.waves.models import Reminder, ReminderAttempt
from engagement.waves.outbox import attempts_of
from notifications import outbox
from notifications.cli import reminders
from notifications.templates import render
from notifications.worker import Worker
from tests.conftest import problem
from tests.fakes import fcm_server as fake
from tests.notifications.conftest import OSLO, oslo

EVENING = {"offsets_days": [0, 3], "window": {"start": "17:00", "end": "20:00"}}


def rows(app, **where) -> list[Reminder]:
    with app.app_context():
        query = sa.select(Reminder).order_by(Reminder.sequence, Reminder.created_at)
        for name, value in where.items():
            query = query.where(getattr(Reminder, name) == value)
        return list(db.session.scalars(query))


def run_at(worker: Worker, at: datetime):
    with clock.frozen(at):
        return worker.run_once()


def test_a_due_reminder_goes_to_every_active_device_with_neutral_text(
    app, worker, fcm, person, add_device, make_wave
):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        participant = person("fid-phone")
        add_device(participant, "token-tablet", kind="fcm_token", language="en")
        wave = make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    assert fcm.calls == []  # planned for the evening window, not sent at noon
    planned = rows(app)
    assert [r.sequence for r in planned] == [1, 2]
    assert all(17 <= r.planned_at.astimezone(OSLO).hour < 18 for r in planned)

    totals = run_at(worker, oslo(2026, 6, 1, 18))
    assert totals.sent == 1
    messages = {c.target: c.message for c in fcm.calls}
    assert set(messages) == {"fid-phone", "token-tablet"}
    assert messages["fid-phone"]["notification"] == {
        "title": "MoBa", "body": render("reminder.first", "nb").body,
    }  # fmt: skip
    assert messages["token-tablet"]["notification"]["body"] == render("reminder.first", "en").body
    first = rows(app, sequence=1)[0]
    assert messages["fid-phone"]["data"] == {"reminder_id": str(first.id), "task_id": str(first.task_id)}
    assert first.status == "sent" and first.template == "reminder.first" and first.attempts == 1
    with app.app_context():
        attempts = attempts_of(first.id)
    assert sorted(a.outcome for a in attempts) == ["sent", "sent"]
    assert all(a.message_id for a in attempts) and wave.id == first.wave_id


@pytest.mark.parametrize(
    "registration, reason",
    [
        ("unregistered-1", "unregistered"),
        ("senderid-1", "sender_id_mismatch"),
        ("badtoken-1", "invalid_registration"),
    ],
)
def test_a_dead_or_foreign_registration_deactivates_that_device_only(
    app, worker, fcm, person, make_wave, registration, reason
):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person("fid-good", registration)
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    totals = run_at(worker, oslo(2026, 6, 1, 18))
    assert totals.sent == 1 and totals.devices_deactivated == 1
    with app.app_context():
        state = {
            d.registration: (d.is_active, d.deactivated_reason) for d in db.session.scalars(sa.select(Device))
        }
    assert state == {"fid-good": (True, None), registration: (False, reason)}
    # the next reminder goes to the good device alone
    run_at(worker, oslo(2026, 6, 4, 18))
    assert fcm.hits("fid-good") == 2 and fcm.hits(registration) == 1


def test_a_refused_payload_fails_the_reminder_without_retrying(app, worker, fcm, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person("badpayload-1")
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    totals = run_at(worker, oslo(2026, 6, 1, 18))
    assert totals.failed == 1
    first = rows(app, sequence=1)[0]
    assert first.status == "failed" and first.reason.startswith("invalid_argument")
    run_at(worker, oslo(2026, 6, 1, 19))
    assert fcm.hits("badpayload-1") == 1


def test_a_rate_limit_waits_as_retry_after_says_without_holding_up_others(
    app, worker, fcm, person, make_wave
):
    fcm.script("fid-limited", fake.quota_exceeded(retry_after=120), fake.ok())
    with clock.frozen(oslo(2026, 6, 1, 12)):
        limited = person("fid-limited")
        person("fid-other")
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    at = oslo(2026, 6, 1, 18)
    totals = run_at(worker, at)
    assert totals.sent == 1 and totals.retried == 1
    (waiting,) = [r for r in rows(app, sequence=1) if r.participant_id == limited.id]
    assert waiting.status == "pending" and waiting.due_at == at + timedelta(seconds=120)
    run_at(worker, at + timedelta(seconds=119))
    assert fcm.hits("fid-limited") == 1
    assert run_at(worker, at + timedelta(seconds=120)).sent == 1
    assert fcm.hits("fid-limited") == 2


def test_a_rate_limit_without_retry_after_waits_at_least_a_minute(app, worker, fcm, person, make_wave):
    fcm.script("fid-project-limited", fake.project_quota_exceeded())
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person("fid-project-limited")
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    at = oslo(2026, 6, 1, 18)
    run_at(worker, at)
    row = rows(app, sequence=1)[0]
    assert row.status == "pending" and row.due_at >= at + timedelta(seconds=60)


def test_server_errors_back_off_exponentially_then_the_reminder_fails(app, worker, fcm, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person("unavailable-1")
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    at, delays = oslo(2026, 6, 1, 18), []
    for _ in range(outbox.MAX_ATTEMPTS):
        run_at(worker, at)
        row = rows(app, sequence=1)[0]
        if row.status != "pending":
            break
        delays.append((row.due_at - at).total_seconds())
        at = row.due_at
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]  # jitter 0 in this test
    assert (
        row.status == "failed" and row.reason == "retries_exhausted" and row.attempts == outbox.MAX_ATTEMPTS
    )
    with app.app_context():
        assert [a.outcome for a in attempts_of(row.id)] == ["backoff"] * outbox.MAX_ATTEMPTS


def test_quiet_hours_defer_a_late_reminder_to_the_next_allowed_time(app, worker, fcm, person, make_wave):
    policy = {
        "offsets_days": [0, 3],
        "window": {"start": "17:00", "end": "23:00"},
        "quiet_hours": [{"start": "21:00", "end": "09:00"}],
    }
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person()
        make_wave(policy=policy)
    run_at(worker, oslo(2026, 6, 1, 12))
    totals = run_at(worker, oslo(2026, 6, 1, 21, 30))  # the worker was down through the evening
    assert fcm.calls == [] and totals.deferred == 1
    row = rows(app, sequence=1)[0]
    assert row.status == "pending" and row.reason == "outside_window"
    assert row.due_at == oslo(2026, 6, 2, 17)
    assert run_at(worker, oslo(2026, 6, 2, 17)).sent == 1


def test_the_sending_window_holds_across_the_autumn_dst_change(app, worker, fcm, person, make_wave):
    with clock.frozen(oslo(2026, 10, 22, 9)):
        person(at=oslo(2026, 10, 22, 9))
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 10, 22, 9))
    second = rows(app, sequence=2)[0]
    local = second.planned_at.astimezone(OSLO)
    assert (
        local.date().isoformat() == "2026-10-25"
        and local.hour == 17
        and local.utcoffset() == timedelta(hours=1)
    )
    assert run_at(worker, oslo(2026, 10, 22, 17, 45)).sent == 1
    # 72 hours after the first send is 16:45 local once the clocks went back: outside the window
    assert run_at(worker, oslo(2026, 10, 25, 16, 45)).sent == 0
    assert run_at(worker, second.due_at).sent == 1
    assert fcm.hits("fid-good") == 2


def test_the_weekly_cap_counts_reminders_of_every_wave(app, worker, fcm, person, make_wave):
    capped = {**EVENING, "weekly_cap": 1}
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person()
        make_wave(policy=capped)
        make_wave(policy=capped)
    run_at(worker, oslo(2026, 6, 1, 12))
    at = oslo(2026, 6, 1, 18)
    totals = run_at(worker, at)
    assert totals.sent == 1 and totals.deferred == 1 and fcm.hits("fid-good") == 1
    (deferred,) = [r for r in rows(app, sequence=1) if r.status == "pending"]
    assert deferred.reason == "weekly_cap" and deferred.due_at >= at + timedelta(days=7)


def test_planning_twice_never_duplicates_a_reminder(app, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person()
        make_wave(policy=EVENING)
        with app.app_context():
            assert outbox.plan(clock.now()).planned == 2
            assert outbox.plan(clock.now()).planned == 0
            first = db.session.scalars(sa.select(Reminder).where(Reminder.sequence == 1)).one()
            copy = Reminder(
                task_id=first.task_id, sequence=1, wave_id=first.wave_id, participant_id=first.participant_id,
                planned_at=first.planned_at, due_at=first.due_at, deadline_at=first.deadline_at,
            )  # fmt: skip
            db.session.add(copy)
            with pytest.raises(sa_exc.IntegrityError):
                db.session.flush()


def test_a_submitted_task_is_not_reminded(app, worker, fcm, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person()
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    with app.app_context():
        task = db.session.scalars(sa.select(Task)).one()
        task.status, task.submitted_at = "submitted", oslo(2026, 6, 1, 13)
        db.session.commit()
    with clock.frozen(oslo(2026, 6, 1, 18)):
        worker.dispatch_batch()  # the send-time check, before any planner could cancel it
    assert fcm.calls == []
    assert rows(app, sequence=1)[0].reason == "task_closed"
    run_at(worker, oslo(2026, 6, 1, 18, 1))  # the planner cancels what is left
    assert [r.status for r in rows(app)] == ["skipped", "cancelled"]


def test_withdrawal_cancels_pending_reminders_and_removes_devices(
    app, client, login_as, worker, fcm, person, make_wave
):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        participant = person()
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    with clock.frozen(oslo(2026, 6, 1, 13)):
        receipt = client.post(
            "/v1/me/withdrawal", json={"scope": "no_contact"}, headers=login_as(participant)
        )
    effects = {e["effect"]: (e["status"], e["count"]) for e in receipt.get_json()["effects"]}
    assert effects["reminders_cancelled"] == ("done", 2) and effects["devices_removed"] == ("done", 1)
    run_at(worker, oslo(2026, 6, 1, 18))
    assert fcm.calls == [] and {r.status for r in rows(app)} == {"cancelled"}


def test_the_consent_check_at_send_time_stops_a_withdrawn_participant(app, worker, fcm, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        participant = person()
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    with app.app_context():  # the ledger alone, as if the eager cancellation had not run
        ledger.record_withdrawal(participant.id, "no_contact", oslo(2026, 6, 1, 13), ledger.Evidence())
        db.session.commit()
    with clock.frozen(oslo(2026, 6, 1, 18)):
        worker.dispatch_batch()
    assert fcm.calls == [] and rows(app, sequence=1)[0].reason == "no_contact"


def test_closing_the_wave_stops_its_reminders(app, worker, fcm, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person()
        wave = make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    with clock.frozen(oslo(2026, 6, 1, 13)), app.app_context():
        waves.close(wave.id, clock.now())
        db.session.commit()
    run_at(worker, oslo(2026, 6, 1, 18))
    assert fcm.calls == []


def test_the_app_records_that_a_reminder_was_opened(
    app, client, login_as, worker, person, make_participant, make_wave
):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        participant = person()
        wave = make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    run_at(worker, oslo(2026, 6, 1, 18))
    sent = rows(app, sequence=1)[0]
    with clock.frozen(oslo(2026, 6, 1, 18, 5)):
        mine, other = login_as(participant), login_as(make_participant())
        assert client.post(f"/v1/me/notifications/{sent.id}/opened", headers=mine).status_code == 204
        assert client.post(f"/v1/me/notifications/{sent.id}/opened", headers=mine).status_code == 204
        problem(
            client.post(f"/v1/me/notifications/{sent.id}/opened", headers=other), 404, "reminder-not-found"
        )
        pending = rows(app, sequence=2)[0]
        problem(
            client.post(f"/v1/me/notifications/{pending.id}/opened", headers=mine), 404, "reminder-not-found"
        )
        problem(client.post(f"/v1/me/notifications/{uuid.uuid4()}/opened", headers=mine), 404)
        figures = client.get(
            f"/v1/admin/waves/{wave.id}/stats", headers=login_as(staff=("coordinator",))
        ).get_json()
    assert rows(app, sequence=1)[0].opened_at == oslo(2026, 6, 1, 18, 5)
    assert (figures["reminded"], figures["opened"]) == (1, 1)
    copy = client.get("/v1/me/data", headers=login_as(participant)).get_json()
    assert [r["id"] for r in copy["reminders"]] == [str(sent.id)]


def test_the_attempt_ledger_is_append_only(app, worker, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person()
        make_wave(policy=EVENING)
    run_at(worker, oslo(2026, 6, 1, 12))
    run_at(worker, oslo(2026, 6, 1, 18))
    with app.app_context():
        attempt = db.session.scalars(sa.select(ReminderAttempt)).one()
        attempt.outcome = "failed"
        with pytest.raises(RuntimeError):
            db.session.flush()


def test_flask_reminders_run_once_writes_to_the_log_in_development(app, person, make_wave):
    with clock.frozen(oslo(2026, 6, 1, 12)):
        person()
        make_wave(policy=EVENING)
    runner = app.test_cli_runner()
    with clock.frozen(oslo(2026, 6, 1, 12)):
        planned = runner.invoke(reminders, ["plan"])
    assert planned.exit_code == 0 and "reminders planned: 2" in planned.output
    with clock.frozen(oslo(2026, 6, 1, 18)):
        result = runner.invoke(reminders, ["run", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output


def test_a_claim_takes_expired_leases_first_then_due_rows_up_to_its_limit(app, person, make_wave):
    noon = oslo(2026, 6, 1, 12)
    with clock.frozen(noon):
        people = [person(f"fid-{i}") for i in range(5)]
        make_wave(policy={"offsets_days": [0], "window": {"start": "00:00", "end": "23:59"},
                          "quiet_hours": [], "min_gap_hours": 0})  # fmt: skip
    with app.app_context():
        outbox.plan(noon)
        db.session.commit()
        by_person = {r.participant_id: r.id for r in db.session.scalars(sa.select(Reminder))}
        ids = [by_person[p.id] for p in people]
        db.session.execute(sa.update(Reminder).values(due_at=noon - timedelta(minutes=1)))
        leased = {ids[0]: noon - timedelta(seconds=1), ids[1]: noon + timedelta(minutes=5)}  # dead, alive
        for reminder_id, until in leased.items():
            db.session.execute(
                sa.update(Reminder)
                .where(Reminder.id == reminder_id)
                .values(status="sending", locked_by="gone", locked_until=until, sending_at=noon)
            )
        db.session.execute(
            sa.update(Reminder).where(Reminder.id == ids[4]).values(due_at=noon + timedelta(hours=1))
        )
        db.session.commit()
        claims = []
        for _ in range(3):
            claimed = outbox.claim("w", noon, limit=2, lease=timedelta(minutes=5))
            db.session.commit()
            claims.append({d.reminder_id for d in claimed.deliveries})
    # the expired lease first, then due pending rows; never a live lease or a row not yet due
    assert claims[0] == {ids[0], ids[2]} or claims[0] == {ids[0], ids[3]}
    assert claims[0] | claims[1] == {ids[0], ids[2], ids[3]} and claims[2] == set()
