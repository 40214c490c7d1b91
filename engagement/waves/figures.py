"""Figures of waves and reminders for coordinators: a wave's statistics and its CSV, the outbox as staff
see it, and the console's overview and wave pages. Counted in SQL; the rules they count by (who is
eligible, when reminders stop) are :mod:`engagement.waves.services`'s and are only called from here."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engagement.consent import counts
from engagement.db import hour_start, utc_hour
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import ADULT_AGE, age_on, today_in_oslo
from engagement.questionnaires.models import QuestionnaireVersion, Task
from engagement.waves.models import REMINDER_STATUSES, Reminder, ReminderAttempt, Wave
from engagement.waves.outbox import worker_last_seen
from engagement.waves.reminders import ReminderPolicy, plan_task
from engagement.waves.services import (
    Eligibility,
    eligible_now,
    eligible_query,
    get_wave,
    latest_birth_for_age,
    task_count,
)

# --- statistics -------------------------------------------------------------------------------------

SERIES = ("tasks", "reminded", "opened", "started", "submitted")


def stats(wave_id: uuid.UUID, at: datetime, *, count_eligible: bool = True) -> dict[str, Any]:
    """Totals and a daily series (Europe/Oslo dates) of tasks, reminded, opened, started, submitted;
    ``reminded`` and ``opened`` count tasks (the first reminder sent, the first one opened).

    ``count_eligible=False`` leaves out who the rule picks now (``eligible`` is then None): asking the
    consent rule of the whole roster costs more than everything else here together."""
    wave = get_wave(wave_id)
    days: dict[str, Counter[date]] = {name: Counter() for name in SERIES}
    for name, bucket, n in db.session.execute(_daily_counts(wave.id)):
        days[name][today_in_oslo(hour_start(bucket))] += int(n)
    totals = {name: sum(counter.values()) for name, counter in days.items()}
    tasks = totals["tasks"]
    all_days = sorted({d for counter in days.values() for d in counter})
    series = []
    if all_days:
        day = all_days[0]
        while day <= all_days[-1]:
            series.append({"date": day, **{name: days[name][day] for name in SERIES}})
            day += timedelta(days=1)
    return {
        "wave_id": wave.id,
        "status": wave.status,
        "at": at,
        # who the rule picks now (a closed wave: whom it picked)
        "eligible": tasks
        if wave.status == "closed"
        else len(eligible_now(wave, at, new_only=False))
        if count_eligible
        else None,
        "tasks": tasks,
        "reminded": totals["reminded"],
        "opened": totals["opened"],
        "started": totals["started"],
        "submitted": totals["submitted"],
        "response_rate": round(totals["submitted"] / tasks, 4) if tasks else 0.0,
        "daily": series,
    }


def _daily_counts(wave_id: uuid.UUID) -> sa.CompoundSelect[str, str, int]:
    """Per series of :data:`SERIES` and UTC hour, how many of the wave's tasks were created, started
    (or submitted without a start), submitted, first reminded and first opened a reminder: each task
    counted once per series, so the hours add up to the totals. One query, grouped in SQL."""

    def hourly(name: str, when: Any, *where: sa.ColumnElement[bool]) -> sa.Select[str, str, int]:
        hour = utc_hour(when)
        return (
            sa.select(sa.literal(name).label("series"), hour.label("hour"), sa.func.count())
            .where(*where)
            .group_by(hour)
        )

    began = sa.func.coalesce(Task.started_at, Task.submitted_at)
    first = (
        sa.select(
            sa.func.min(Reminder.sent_at).label("sent_at"), sa.func.min(Reminder.opened_at).label("opened_at")
        )
        .where(Reminder.wave_id == wave_id, Reminder.sent_at.is_not(None))
        .group_by(Reminder.task_id)
        .subquery()
    )
    return sa.union_all(
        hourly("tasks", Task.created_at, Task.wave_id == wave_id),
        hourly("started", began, Task.wave_id == wave_id, began.is_not(None)),
        hourly("submitted", Task.submitted_at, Task.wave_id == wave_id, Task.submitted_at.is_not(None)),
        hourly("reminded", first.c.sent_at),
        hourly("opened", first.c.opened_at, first.c.opened_at.is_not(None)),
    )


def stats_csv(figures: Mapping[str, Any]) -> str:
    """The daily series as CSV (one row per date; a header row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", *SERIES])
    for row in figures["daily"]:
        writer.writerow([row["date"].isoformat(), *(row[name] for name in SERIES)])
    return out.getvalue()


# --- the outbox as staff see it -------------------------------------------------------------------


def outbox_by_status() -> dict[str, int]:
    """How many reminder rows are in each status (every status listed, zero where none)."""
    counts = dict.fromkeys(REMINDER_STATUSES, 0)
    query = sa.select(Reminder.status, sa.func.count()).group_by(Reminder.status)
    counts.update({status: int(n) for status, n in db.session.execute(query)})
    return counts


def failures_by_class(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Delivery attempts that did not go through, per Europe/Oslo day and class (the attempt's outcome:
    ``deactivate_device``, ``retry_after``, ``backoff``, ``failed``), oldest day first."""
    hour = utc_hour(ReminderAttempt.attempted_at).label("hour")
    query = (
        sa.select(hour, ReminderAttempt.outcome, sa.func.count())
        .where(
            ReminderAttempt.outcome != "sent",
            ReminderAttempt.attempted_at >= since,
            ReminderAttempt.attempted_at < until,
        )
        .group_by(hour, ReminderAttempt.outcome)
    )
    days: Counter[tuple[date, str]] = Counter()
    for bucket, outcome, n in db.session.execute(query):
        days[(today_in_oslo(hour_start(bucket)), outcome)] += int(n)
    return [{"date": day, "class": outcome, "attempts": n} for (day, outcome), n in sorted(days.items())]


# --- figures for the console's overview --------------------------------------------------------------


def coming_of_age(today: date) -> dict[str, int]:
    """The roster's size and how many turned 18 this month, this quarter and ever (by ``today``, Oslo
    dates), by the same birth-date rule as a ``turns_18_between`` wave; one query."""
    month = today.replace(day=1)
    quarter = month.replace(month=(today.month - 1) // 3 * 3 + 1)

    def turned_between(start: date) -> sa.ColumnElement[bool]:
        low, high = Eligibility("turns_18_between", turns_18_from=start, turns_18_to=today).birth_dates(today)
        assert low is not None
        return sa.and_(Participant.birth_date >= low, Participant.birth_date <= high)

    def counted(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.count(sa.case((condition, 1)))

    adult = Participant.birth_date <= latest_birth_for_age(ADULT_AGE, today)
    roster, adults, this_month, this_quarter = db.session.execute(
        sa.select(
            sa.func.count(), counted(adult), counted(turned_between(month)), counted(turned_between(quarter))
        ).select_from(Participant)
    ).one()
    return {
        "roster": int(roster),
        "adults": int(adults),
        "this_month": int(this_month),
        "this_quarter": int(this_quarter),
    }


def running_waves(at: datetime) -> list[dict[str, Any]]:
    """Launched waves that have not closed, with their tasks, submissions and response rate (one query:
    per wave, its tasks counted on the (wave, participant) index and its submitted ones on their own
    partial index, neither reading the task table)."""

    def tasks_of_wave(*where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
        return (
            sa.select(sa.func.count())
            .select_from(Task)
            .where(Task.wave_id == Wave.id, *where)
            .scalar_subquery()
        )

    rows = db.session.execute(
        sa.select(
            Wave.id,
            Wave.name,
            Wave.closes_at,
            tasks_of_wave(),
            tasks_of_wave(Task.submitted_at.is_not(None)),
        )
        .where(Wave.status == "launched", Wave.closes_at > at)
        .order_by(Wave.closes_at)
    ).all()
    return [
        {
            "id": wave_id,
            "name": name,
            "closes_at": closes_at,
            "tasks": int(tasks),
            "submitted": int(submitted),
            "response_rate": (submitted / tasks) if tasks else 0.0,
        }
        for wave_id, name, closes_at, tasks, submitted in rows
    ]


def reminder_counts(since: datetime) -> dict[str, Any]:
    """Reminders sent, failed and opened since ``since``, and when a reminder worker was last seen alive
    (its heartbeat, :func:`worker_last_seen`: an idle worker is seen too). One query; each count reads
    an index (failed: the attempts since that did not go through, each looked up by its reminder)."""

    def counted(column: Any) -> sa.ScalarSelect[int]:
        return sa.select(sa.func.count()).select_from(Reminder).where(column >= since).scalar_subquery()

    status = sa.select(Reminder.status).where(Reminder.id == ReminderAttempt.reminder_id).scalar_subquery()
    failed = (
        sa.select(sa.func.count(sa.distinct(ReminderAttempt.reminder_id)))
        .where(ReminderAttempt.outcome != "sent", ReminderAttempt.attempted_at >= since, status == "failed")
        .scalar_subquery()
    )
    sent, opened, failures = db.session.execute(
        sa.select(counted(Reminder.sent_at), counted(Reminder.opened_at), failed)
    ).one()
    return {
        "sent": int(sent or 0),
        "failed": int(failures or 0),
        "opened": int(opened or 0),
        "worker_last_seen": worker_last_seen(),
    }


# --- figures for the console's wave pages -------------------------------------------------------------


def waves_table() -> sa.Select[Any]:
    """Every wave with its questionnaire and task count, as a query to sort and page on the server."""
    tasks = sa.select(sa.func.count(Task.id)).where(Task.wave_id == Wave.id).correlate(Wave).scalar_subquery()
    return sa.select(
        Wave.id,
        Wave.name,
        Wave.status,
        Wave.opens_at,
        Wave.closes_at,
        Wave.created_at,
        QuestionnaireVersion.key.label("questionnaire_key"),
        QuestionnaireVersion.version.label("questionnaire_version"),
        tasks.label("tasks"),
    ).join(QuestionnaireVersion, QuestionnaireVersion.id == Wave.questionnaire_version_id)


def preview_breakdown(wave: Wave, at: datetime) -> dict[str, Any]:
    """Who the wave picks at ``at``, broken down by age (today, Oslo), language and consent per purpose;
    grouped in SQL."""
    eligible = eligible_query(wave, at, new_only=False).subquery()
    today = today_in_oslo(at)
    by_age: Counter[int] = Counter()
    for birth_date, n in db.session.execute(
        sa.select(Participant.birth_date, sa.func.count())
        .where(Participant.id.in_(sa.select(eligible.c.id)))
        .group_by(Participant.birth_date)
    ):
        by_age[age_on(birth_date, today)] += int(n)
    by_language = {
        language: int(n)
        for language, n in db.session.execute(
            sa.select(Participant.language, sa.func.count())
            .where(Participant.id.in_(sa.select(eligible.c.id)))
            .group_by(Participant.language)
            .order_by(Participant.language)
        )
    }
    return {
        "eligible": sum(by_age.values()),
        "tasks": task_count(wave.id),
        "by_age": dict(sorted(by_age.items())),
        "by_language": by_language,
        "by_consent": counts.decision_counts(at, among=sa.select(eligible.c.id)),
    }


def sample_schedule(wave: Wave, at: datetime) -> dict[str, Any] | None:
    """The reminder schedule the wave's policy gives one eligible participant (the first by cohort id)
    whose task would open at launch ``at``; None when nobody is eligible."""
    eligible = eligible_query(wave, at, new_only=False).subquery()
    sample = db.session.execute(
        sa.select(Participant.cohort_person_id, Participant.time_zone)
        .where(Participant.id.in_(sa.select(eligible.c.id)))
        .order_by(Participant.cohort_person_id)
        .limit(1)
    ).first()
    if sample is None:
        return None
    cohort_person_id, time_zone = sample
    opens_at = max(wave.opens_at, at)
    planned = plan_task(
        ReminderPolicy.from_dict(wave.reminder_policy),
        opens_at=opens_at,
        due_at=wave.closes_at,
        timezone=time_zone,
    )
    return {
        "cohort_person_id": cohort_person_id,
        "time_zone": time_zone,
        "opens_at": opens_at,
        "reminders": [{"sequence": p.sequence, "send_at": p.send_at} for p in planned],
    }


def response_by_reminder(wave_id: uuid.UUID) -> list[dict[str, int]]:
    """Submissions by how many reminders had been sent for the task before it was submitted (0: none),
    and how many tasks got at least that many reminders; counted in SQL."""
    sent_before = (
        sa.select(sa.func.count(Reminder.id))
        .where(
            Reminder.task_id == Task.id,
            Reminder.sent_at.is_not(None),
            Reminder.sent_at <= Task.submitted_at,
        )
        .correlate(Task)
        .scalar_subquery()
    )
    submitted: dict[int, int] = {
        int(n_reminders): int(n)
        for n_reminders, n in db.session.execute(
            sa.select(sent_before.label("n"), sa.func.count())
            .where(Task.wave_id == wave_id, Task.submitted_at.is_not(None))
            .group_by(sa.literal_column("n"))
        )
    }
    reminded: dict[int, int] = {
        int(sequence): int(n)
        for sequence, n in db.session.execute(
            sa.select(Reminder.sequence, sa.func.count(sa.distinct(Reminder.task_id)))
            .where(Reminder.wave_id == wave_id, Reminder.sent_at.is_not(None))
            .group_by(Reminder.sequence)
        )
    }
    sequences = sorted({0, *submitted, *reminded})
    return [
        {"sequence": s, "reminded": reminded.get(s, 0), "submitted_after": submitted.get(s, 0)}
        for s in sequences
    ]
