"""The outbox rows a wave owns, as the domain sees them: cancelling pending reminders (a wave closed,
a task closed, a withdrawal), the app's opened receipt, the participant's own list, which tasks are due
a reminder and what a reminder says; and the reminder workers' heartbeats and figures. The worker that
claims and sends the rows is :mod:`notifications.outbox`; the policy that plans them,
:mod:`engagement.waves.reminders`; the rules of waves, :mod:`engagement.waves.services`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engagement.consent import rules
from engagement.devices import services as devices
from engagement.devices.models import Device
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.problems import NotFound
from engagement.questionnaires.models import ACTIVE_STATUSES, Task
from engagement.waves.models import Reminder, ReminderAttempt, ReminderWorker, Wave
from engagement.waves.reminders import ReminderPolicy


class ReminderNotFound(NotFound):
    slug, title = "reminder-not-found", "No such reminder"


def cancel_reminders(where: sa.ColumnElement[bool], reason: str) -> int:
    """Cancel the pending reminders ``where`` holds, with the reason; returns how many."""
    result = db.session.execute(
        sa.update(Reminder)
        .where(where, Reminder.status == "pending")
        .values(status="cancelled", reason=reason, locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def cancel_pending_reminders(participant_id: uuid.UUID, reason: str) -> int:
    """Cancel the participant's pending reminders (withdrawal); returns how many."""
    return cancel_reminders(Reminder.participant_id == participant_id, reason)


def cancel_reminders_of_closed_tasks() -> int:
    """Cancel pending reminders whose task was submitted, expired or cancelled since they were planned."""
    closed = sa.select(Task.id).where(Task.id == Reminder.task_id, Task.status.not_in(ACTIVE_STATUSES))
    return cancel_reminders(closed.exists(), "task_closed")


def mark_opened(participant_id: uuid.UUID, reminder_id: uuid.UUID, at: datetime) -> Reminder:
    """Record that the app opened one of the participant's reminders (the first time counts)."""
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.participant_id != participant_id or reminder.sent_at is None:
        raise ReminderNotFound()
    if reminder.opened_at is None:
        reminder.opened_at = at
        db.session.flush()
    return reminder


def reminders_section(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The reminders sent to the participant, for their data copy."""
    rows = db.session.execute(
        sa.select(Reminder, Wave.name)
        .join(Wave, Wave.id == Reminder.wave_id)
        .where(Reminder.participant_id == participant_id, Reminder.sent_at.is_not(None))
        .order_by(Reminder.sent_at)
    ).all()
    return [
        {
            "id": r.id,
            "wave": name,
            "task_id": r.task_id,
            "sequence": r.sequence,
            "sent_at": r.sent_at,
            "opened_at": r.opened_at,
            "template": r.template,
        }
        for r, name in rows
    ]


def reminders_stop_at(task_due_at: datetime | None, wave_closes_at: datetime) -> datetime:
    """When a task's reminders stop: when it is due, or when its wave closes if that is sooner."""
    return min(task_due_at, wave_closes_at) if task_due_at else wave_closes_at


@dataclass(frozen=True)
class TaskToRemind:
    """An open task of a launched, open wave that has no reminder rows yet: what planning them needs."""

    task_id: uuid.UUID
    participant_id: uuid.UUID
    wave_id: uuid.UUID
    opens_at: datetime
    stop_at: datetime  # :func:`reminders_stop_at`
    time_zone: str | None
    policy: ReminderPolicy


def tasks_to_remind(at: datetime) -> Iterator[TaskToRemind]:
    """Every open task of a launched wave still open at ``at`` that has no reminder rows yet."""
    policies: dict[uuid.UUID, ReminderPolicy] = {}
    has_rows = sa.select(Reminder.id).where(Reminder.task_id == Task.id).exists()
    query = (
        sa.select(
            Task.id,
            Task.participant_id,
            Task.wave_id,
            Task.opens_at,
            Task.due_at,
            Participant.time_zone,
            Wave.reminder_policy,
            Wave.closes_at,
        )
        .join(Wave, Wave.id == Task.wave_id)
        .join(Participant, Participant.id == Task.participant_id)
        .where(Wave.status == "launched", Wave.closes_at > at, Task.status.in_(ACTIVE_STATUSES), ~has_rows)
    )
    for (
        task_id,
        participant_id,
        wave_id,
        opens_at,
        due_at,
        zone,
        policy_data,
        closes_at,
    ) in db.session.execute(query):
        policy = policies.get(wave_id)
        if policy is None:
            policy = policies[wave_id] = ReminderPolicy.from_dict(policy_data)
        yield TaskToRemind(
            task_id, participant_id, wave_id, opens_at, reminders_stop_at(due_at, closes_at), zone, policy
        )


@dataclass(frozen=True)
class ReminderContext:
    """What sending one reminder at a time needs to know of its task, wave and participant."""

    task_id: uuid.UUID
    policy: ReminderPolicy
    stop_at: datetime  # :func:`reminders_stop_at`
    task_open: bool
    wave_open: bool
    contact_allowed: bool
    time_zone: str | None
    language: str
    devices: list[Device]  # where it goes: active and recently seen


def reminder_contexts(reminders: Collection[Reminder], at: datetime) -> dict[uuid.UUID, ReminderContext]:
    """The :class:`ReminderContext` of each reminder at ``at``, by reminder id, in a few queries.

    The reminders' participants are locked until the caller's transaction ends, so that two workers
    checking caps for the same person take turns (FOR KEY SHARE: new rows that only reference a
    participant are not held up)."""
    participant_ids = sorted({r.participant_id for r in reminders})
    people = {
        p.id: p
        for p in db.session.scalars(
            sa.select(Participant)
            .where(db.among(Participant.id, participant_ids))
            .order_by(Participant.id)
            .with_for_update(key_share=True)
        )
    }
    tasks = {
        t.id: t
        for t in db.session.scalars(sa.select(Task).where(db.among(Task.id, {r.task_id for r in reminders})))
    }
    wave_by_id = {
        w.id: w
        for w in db.session.scalars(sa.select(Wave).where(Wave.id.in_({r.wave_id for r in reminders})))
    }
    policies = {w.id: ReminderPolicy.from_dict(w.reminder_policy) for w in wave_by_id.values()}
    contactable = rules.participants_contactable(at, participant_ids)
    targets = devices.active_devices(participant_ids, at)
    contexts = {}
    for reminder in reminders:
        task, wave, person = (
            tasks[reminder.task_id],
            wave_by_id[reminder.wave_id],
            people[reminder.participant_id],
        )
        contexts[reminder.id] = ReminderContext(
            task_id=task.id,
            policy=policies[wave.id],
            stop_at=reminders_stop_at(task.due_at, wave.closes_at),
            task_open=task.status_at(at) in ACTIVE_STATUSES,
            wave_open=wave.status == "launched" and at < wave.closes_at,
            contact_allowed=person.id in contactable,
            time_zone=person.time_zone,
            language=person.language,
            devices=targets.get(person.id, []),
        )
    return contexts


# --- the workers -----------------------------------------------------------------------------------


def worker_seen(
    name: str, at: datetime, *, sent: int = 0, retried: int = 0, failed: int = 0, skipped: int = 0
) -> None:
    """Record that worker ``name`` was alive at ``at``, adding what it did since it last said so."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = (postgresql if db.is_postgres else sqlite).insert(ReminderWorker)
    counts = {"sent": sent, "retried": retried, "failed": failed, "skipped": skipped}
    db.session.execute(
        insert.values(name=name, started_at=at, last_seen_at=at, **counts).on_conflict_do_update(
            index_elements=["name"],
            set_={
                "last_seen_at": insert.excluded.last_seen_at,
                **{key: getattr(ReminderWorker, key) + getattr(insert.excluded, key) for key in counts},
            },
        )
    )


@dataclass(frozen=True)
class WorkerFigures:
    """What the reminder workers did, all of them together (``/metrics``), and whether they run."""

    last_seen_at: datetime | None  # the most recent sign of life of any worker
    sent: int
    retried: int
    failed: int
    skipped: int
    lag_seconds: float  # how long the oldest due, unsent reminder has waited (0 when none waits)


def worker_last_seen() -> datetime | None:
    """When a reminder worker was last seen alive (any of them), or ``None`` if none ever ran."""
    last: datetime | None = db.session.scalar(sa.select(sa.func.max(ReminderWorker.last_seen_at)))
    return last


def worker_figures(at: datetime) -> WorkerFigures:
    """The :class:`WorkerFigures` at ``at``."""
    last_seen, *counts = db.session.execute(
        sa.select(
            sa.func.max(ReminderWorker.last_seen_at),
            *(
                sa.func.coalesce(sa.func.sum(column), 0)
                for column in (
                    ReminderWorker.sent,
                    ReminderWorker.retried,
                    ReminderWorker.failed,
                    ReminderWorker.skipped,
                )
            ),
        )
    ).one()
    # Due and unsent: pending and due, or leased by a worker whose lease ran out (each read from its index).
    oldest = [
        db.session.scalar(
            sa.select(sa.func.min(Reminder.due_at)).where(Reminder.status == "pending", Reminder.due_at <= at)
        ),
        db.session.scalar(
            sa.select(sa.func.min(Reminder.locked_until)).where(
                Reminder.status == "sending", Reminder.locked_until < at
            )
        ),
    ]
    waited = [(at - when).total_seconds() for when in oldest if when is not None]
    sent, retried, failed, skipped = (int(c) for c in counts)
    return WorkerFigures(last_seen, sent, retried, failed, skipped, max(waited, default=0.0))


def attempts_of(reminder_id: uuid.UUID) -> list[ReminderAttempt]:
    return list(
        db.session.scalars(
            sa.select(ReminderAttempt)
            .where(ReminderAttempt.reminder_id == reminder_id)
            .order_by(ReminderAttempt.attempted_at, ReminderAttempt.id)
        )
    )
