"""The reminder outbox: planning rows, claiming due rows, checking them again, and recording outcomes.

Rows (``engagement.waves.models.Reminder``) are unique per (task, sequence), so planning twice never
duplicates. A worker batch is three steps, each its own short transaction or none:

1. :func:`claim` — take due rows (``sending`` whose lease ran out: a worker died; then ``pending`` and
   due; each kind read in order from its own partial index) with ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL and ``BEGIN IMMEDIATE`` on SQLite, and in the same transaction check each again
   (:func:`engagement.waves.reminders.decide`: task still open, contact allowed, wave open, inside the
   window, caps; the participants' rows are locked meanwhile, so two workers cannot both spend the
   last place under a cap). Rows to send get ``sending_at``; the rest are deferred to a
   later ``due_at`` or settled (skipped). Commit.
2. Send (outside any transaction) to every active device.
3. :func:`record` — one ledger row per device attempt, devices FCM called dead deactivated, and the row
   settled (``sent`` if any device accepted), rescheduled (429 / 5xx, with the sender's delay) or
   failed (no retry helps, attempts or deadline spent). Guarded by ``locked_by``: a worker whose lease
   was taken over records its attempts but does not settle the row. Commit.

A crash between 1 and 3 loses nothing: the lease runs out and another worker claims the row again.
The price is at-least-once delivery: what was accepted by FCM but not recorded is sent again (at most
the rows of the batch in flight; ``collapse_key`` makes the repeat replace the first on the device).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from engagement.devices import services as devices
from engagement.extensions import db
from engagement.waves import services as waves
from engagement.waves.models import Reminder, ReminderAttempt
from engagement.waves.outbox import (
    ReminderContext,
    cancel_reminders_of_closed_tasks,
    reminder_contexts,
    tasks_to_remind,
)
from engagement.waves.reminders import CAP_PERIOD, Defer, Skip, decide, plan_task
from notifications.sender import (
    MAX_TTL,
    Backoff,
    DeactivateDevice,
    Failed,
    PushMessage,
    RetryAfter,
    SendOutcome,
    Sent,
)
from notifications.templates import reminder_template, render

MAX_ATTEMPTS = 6
RETRY_WINDOW = timedelta(hours=24)  # after its send time, a reminder that cannot be delivered fails
SPREAD_MINUTES = 30  # a wave's reminders spread over this many minutes of the window


# --- planning ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanResult:
    tasks_added: int
    planned: int
    cancelled: int


def _insert_ignoring_duplicates(rows: list[dict[str, object]]) -> int:
    if not rows:
        return 0
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if db.is_postgres else sqlite
    stmt = dialect.insert(Reminder).on_conflict_do_nothing(index_elements=["task_id", "sequence"])
    db.session.execute(stmt, rows)
    return len(rows)


def plan(now: datetime) -> PlanResult:
    """Add newly eligible people to rolling waves, cancel reminders of closed tasks, and write the
    reminder rows of every open task of a launched, open wave that has none yet. Idempotent."""
    added = sum(waves.refresh(now).values())
    cancelled = cancel_reminders_of_closed_tasks()
    planned = 0
    rows: list[dict[str, object]] = []
    for task in tasks_to_remind(now):
        for reminder in plan_task(
            task.policy,
            opens_at=task.opens_at,
            due_at=task.stop_at,
            timezone=task.time_zone,
            spread_key=str(task.task_id),
            spread_minutes=SPREAD_MINUTES,
        ):
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "task_id": task.task_id,
                    "sequence": reminder.sequence,
                    "wave_id": task.wave_id,
                    "participant_id": task.participant_id,
                    "status": "pending",
                    "planned_at": reminder.send_at,
                    "due_at": reminder.send_at,
                    "deadline_at": min(reminder.send_at + RETRY_WINDOW, task.stop_at),
                    "attempts": 0,
                    "created_at": now,
                }
            )
        if len(rows) >= 5000:
            planned += _insert_ignoring_duplicates(rows)
            rows = []
    planned += _insert_ignoring_duplicates(rows)
    return PlanResult(added, planned, cancelled)


# --- claiming and checking -------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One claimed reminder to send now: a message per active device."""

    reminder_id: uuid.UUID
    attempt: int
    deadline_at: datetime
    devices: list[tuple[uuid.UUID, str]]  # (device id, fingerprint), in the order of ``messages``
    messages: list[PushMessage]


@dataclass
class Claim:
    deliveries: list[Delivery] = field(default_factory=list)
    claimed: int = 0
    deferred: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def claim(worker: str, now: datetime, *, limit: int, lease: timedelta) -> Claim:
    """Claim up to ``limit`` due rows for ``worker`` and decide, for each, send, defer or skip.

    The caller commits (then sends the deliveries, then calls :func:`record`)."""
    db.lock_for_write()
    claimed_ids: list[uuid.UUID] = []
    # Rows whose lease ran out first (a worker died), then pending rows that are due: one statement
    # each, so that each reads its own partial index in order and stops at ``limit``, however many
    # rows the outbox holds (one statement ORing both kinds reads and sorts every pending row).
    for due in (
        sa.and_(Reminder.status == "sending", Reminder.locked_until < now),
        sa.and_(Reminder.status == "pending", Reminder.due_at <= now),
    ):
        if len(claimed_ids) >= limit:
            break
        rows = (
            sa.select(Reminder.id)
            .where(due)
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit - len(claimed_ids))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed_ids += db.session.scalars(
            sa.update(Reminder)
            .where(Reminder.id.in_(rows))
            .values(status="sending", locked_by=worker, locked_until=now + lease, sending_at=None)
            .returning(Reminder.id)
            .execution_options(synchronize_session=False)
        )
    result = Claim(claimed=len(claimed_ids))
    if not claimed_ids:
        return result
    reminders = list(
        db.session.scalars(
            sa.select(Reminder)
            .where(db.among(Reminder.id, claimed_ids))
            .order_by(Reminder.due_at, Reminder.id)
            .execution_options(populate_existing=True)
        )
    )
    participant_ids = sorted({r.participant_id for r in reminders})
    # Locks the participants while the caps are checked: workers on the same people take turns.
    contexts = reminder_contexts(reminders, now)
    in_flight = sa.and_(
        Reminder.status == "sending", Reminder.sending_at.is_not(None), Reminder.locked_until >= now
    )
    not_claimed = sa.not_(db.among(Reminder.id, claimed_ids))
    others = sa.and_(not_claimed, sa.or_(Reminder.status == "sent", in_flight))
    sent_in_task: dict[uuid.UUID, int] = defaultdict(int)
    for task_id, count in db.session.execute(
        sa.select(Reminder.task_id, sa.func.count())
        .where(db.among(Reminder.task_id, {c.task_id for c in contexts.values()}), others)
        .group_by(Reminder.task_id)
    ):
        sent_in_task[task_id] = int(count)
    recent: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for participant_id, sent_at, sending_at in db.session.execute(
        sa.select(Reminder.participant_id, Reminder.sent_at, Reminder.sending_at).where(
            db.among(Reminder.participant_id, participant_ids),
            not_claimed,
            sa.or_(Reminder.sent_at > now - CAP_PERIOD, in_flight),
        )
    ):
        when = sent_at if sent_at is not None else sending_at
        if when is not None:
            recent[participant_id].append(when)
    sending: dict[tuple[str, int | None], list[uuid.UUID]] = defaultdict(list)

    for reminder in reminders:
        context = contexts[reminder.id]
        policy = context.policy
        decision = decide(
            policy,
            now=now,
            timezone=context.time_zone,
            due_at=context.stop_at,
            task_open=context.task_open,
            wave_open=context.wave_open,
            contact_allowed=context.contact_allowed,
            sent_in_wave=sent_in_task[context.task_id],
            recent_sends=recent[reminder.participant_id],
        )
        if not isinstance(decision, Skip | Defer) and not context.devices:
            decision = Skip("no_device")
        if isinstance(decision, Skip):
            _settle(reminder, "skipped", decision.reason)
            result.skipped[decision.reason] = result.skipped.get(decision.reason, 0) + 1
            continue
        if isinstance(decision, Defer):
            reminder.status, reminder.due_at, reminder.reason = "pending", decision.until, decision.reason
            reminder.deadline_at = max(reminder.deadline_at, decision.until + RETRY_WINDOW)
            reminder.locked_by = reminder.locked_until = None
            result.deferred += 1
            continue
        planned = min(len(policy.offsets_days), policy.max_per_wave)
        template = reminder_template(reminder.sequence, planned)
        sent_in_task[context.task_id] += 1
        recent[reminder.participant_id].append(now)
        delivery, template_version = _delivery(
            reminder, reminder.attempts + 1, template, context, min(context.stop_at - now, MAX_TTL)
        )
        result.deliveries.append(delivery)
        sending[template, template_version].append(reminder.id)
    db.session.flush()
    # The rows to send, one statement per template rather than one per row (they are locked: ours).
    for (template, template_version), ids in sending.items():
        db.session.execute(
            sa.update(Reminder)
            .where(db.among(Reminder.id, ids))
            .values(
                attempts=Reminder.attempts + 1,
                sending_at=now,
                template=template,
                template_version=template_version,
            )
            .execution_options(synchronize_session=False)
        )
    return result


def _delivery(
    reminder: Reminder, attempt: int, template: str, context: ReminderContext, ttl: timedelta
) -> tuple[Delivery, int | None]:
    """The messages of one reminder's attempt, and the version of its text (the last device's)."""
    messages, device_refs = [], []
    template_version: int | None = None
    for device in context.devices:
        text = render(template, device.language or context.language)
        template_version = text.version
        message = PushMessage(
            registration=device.registration,
            kind=device.kind,  # type: ignore[arg-type]
            title=text.title,
            body=text.body,
            data={"reminder_id": str(reminder.id), "task_id": str(context.task_id)},
            collapse_key=f"task-{context.task_id}",
            ttl=ttl,
            analytics_label=f"reminder-{reminder.sequence}",
            attempt=attempt,
        )
        messages.append(message)
        device_refs.append((device.id, message.fingerprint))
    return Delivery(reminder.id, attempt, reminder.deadline_at, device_refs, messages), template_version


def _settle(reminder: Reminder, status: str, reason: str | None) -> None:
    reminder.status, reminder.reason = status, reason
    reminder.locked_by = reminder.locked_until = None


# --- recording ---------------------------------------------------------------------------------------


@dataclass
class Recorded:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    no_device: int = 0
    devices_deactivated: int = 0
    lost_lease: int = 0


def record(
    worker: str, now: datetime, deliveries: Sequence[Delivery], outcomes: Sequence[Sequence[SendOutcome]]
) -> Recorded:
    """Record every attempt and settle each reminder from its devices' outcomes (the caller commits)."""
    db.lock_for_write()  # SQLite: a read-then-write transaction must hold the write lock from the start
    result = Recorded()
    ledger: list[dict[str, object]] = []
    dead: dict[str, list[uuid.UUID]] = defaultdict(list)
    owned = set(
        db.session.scalars(
            sa.select(Reminder.id)
            .where(
                db.among(Reminder.id, [d.reminder_id for d in deliveries]),
                Reminder.locked_by == worker,
                Reminder.status == "sending",
            )
            .with_for_update()
        )
    )
    updates: list[dict[str, object]] = []
    for delivery, device_outcomes in zip(deliveries, outcomes, strict=True):
        delays: list[float] = []
        accepted = failed = False
        reasons: list[str] = []
        for (device_id, fingerprint), outcome in zip(delivery.devices, device_outcomes, strict=True):
            entry: dict[str, object] = {
                "id": uuid.uuid4(),
                "reminder_id": delivery.reminder_id,
                "device_id": device_id,
                "device_fingerprint": fingerprint,
                "attempt": delivery.attempt,
                "worker": worker,
                "attempted_at": now,
                "outcome": outcome.kind,
                "detail": None,
                "message_id": None,
                "retry_seconds": None,
            }
            if isinstance(outcome, Sent):
                accepted = True
                entry["message_id"] = outcome.message_id[:200]
            elif isinstance(outcome, DeactivateDevice):
                dead[outcome.reason].append(device_id)
                entry["detail"] = outcome.reason
            elif isinstance(outcome, RetryAfter | Backoff):
                delays.append(outcome.seconds)
                entry["retry_seconds"] = outcome.seconds
                entry["detail"] = (
                    "project_quota"
                    if isinstance(outcome, RetryAfter) and outcome.project_wide
                    else (outcome.reason if isinstance(outcome, Backoff) else "device_quota")
                )
            elif isinstance(outcome, Failed):
                failed = True
                entry["detail"] = outcome.reason[:300]
                reasons.append(outcome.reason[:60])
            ledger.append(entry)
        if delivery.reminder_id not in owned:
            result.lost_lease += 1
            continue
        values: dict[str, object] = {"id": delivery.reminder_id, "locked_by": None, "locked_until": None}
        if accepted:
            values.update(status="sent", sent_at=now, reason=None)
            result.sent += 1
        elif delays:
            retry_at = now + timedelta(seconds=max(delays))
            if delivery.attempt >= MAX_ATTEMPTS or retry_at > delivery.deadline_at:
                values.update(status="failed", reason="retries_exhausted", sending_at=None)
                result.failed += 1
            else:
                values.update(status="pending", due_at=retry_at, reason="retry", sending_at=None)
                result.retried += 1
        elif failed:
            values.update(status="failed", reason=(reasons[0] if reasons else "failed"), sending_at=None)
            result.failed += 1
        else:  # every device was dead
            values.update(status="skipped", reason="no_device", sending_at=None)
            result.no_device += 1
        updates.append(values)
    if ledger:
        db.session.execute(sa.insert(ReminderAttempt), ledger)
    for reason, ids in dead.items():
        result.devices_deactivated += devices.deactivate(ids, reason, now)
    # The rows are ours: selected above FOR UPDATE with locked_by = worker (SQLite: BEGIN IMMEDIATE).
    # Rows settled alike (usually: all sent) are settled by one statement.
    alike: dict[tuple[tuple[str, object], ...], list[object]] = defaultdict(list)
    for values in updates:
        reminder_id = values.pop("id")
        alike[tuple(sorted(values.items()))].append(reminder_id)
    for settled, reminder_ids in alike.items():
        db.session.execute(
            sa.update(Reminder)
            .where(db.among(Reminder.id, reminder_ids))
            .values(dict(settled))
            .execution_options(synchronize_session=False)
        )
    return result
