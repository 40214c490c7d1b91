"""The rules of waves: who is eligible, launching (set-based, idempotent), rolling additions, closing.
The reminder rows a wave owns, opened receipts and the workers' heartbeats are
:mod:`engagement.waves.outbox`. What coordinators are shown about waves (statistics, console figures) is :mod:`engagement.waves.figures`.

Eligibility is an age rule, in Europe/Oslo dates: ``{"kind": "age", "min_age", "max_age", "on"}`` (age on
the day ``on``; for a rolling wave without ``on``, on the day of each refresh) or
``{"kind": "turns_18_between", "from", "to"}`` (the 18th birthday in that range, both ends included). On top
of it, always: 18 or older today, consent to every required purpose (and the questionnaire's own), and
no withdrawal in force — asked of the consent domain in bulk (:func:`engagement.consent.rules.
reachable_query`, a query the launch inserts from), never re-implemented here.

Reminder policies are validated by :class:`engagement.waves.reminders.ReminderPolicy`, the pure reminder
policy beside this module (it imports nothing from the database or Flask).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engagement import audit, clock
from engagement.consent import documents, ledger, rules
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import ADULT_AGE, age_on, today_in_oslo
from engagement.problems import Conflict, NotFound, ValidationFailed
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import ACTIVE_STATUSES, Task
from engagement.waves import outbox
from engagement.waves.models import Reminder, Wave
from engagement.waves.reminders import PolicyError, ReminderPolicy

SAMPLE_SIZE = 20


class WaveNotFound(NotFound):
    slug, title = "wave-not-found", "No such wave"


class WaveInvalid(ValidationFailed):
    slug, title = "wave-invalid", "The wave cannot be created as given"


class WaveClosed(Conflict):
    slug, title = "wave-closed", "This wave is closed"


class WaveNotLaunched(Conflict):
    slug, title = "wave-not-launched", "This wave has not been launched"


class ParticipantNotEligible(Conflict):
    """The participant may not be given this task now; ``reasons`` says why (``under_18``,
    ``withdrawn``, ``no_consent``)."""

    slug, title = "participant-not-eligible", "The participant may not be given this task"


# --- eligibility ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    kind: str
    min_age: int | None = None
    max_age: int | None = None
    on: date | None = None
    turns_18_from: date | None = None
    turns_18_to: date | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Eligibility:
        kind = data.get("kind")
        if kind == "age":
            min_age, max_age = data.get("min_age", ADULT_AGE), data.get("max_age")
            problems = []
            if not isinstance(min_age, int) or not ADULT_AGE <= min_age <= 120:
                problems.append("min_age must be a whole number from 18 to 120")
            if max_age is not None and (not isinstance(max_age, int) or not isinstance(min_age, int)
                                        or not min_age <= max_age <= 120):  # fmt: skip
                problems.append("max_age must be a whole number from min_age to 120")
            if problems:
                raise WaveInvalid({"eligibility": problems})
            return cls("age", min_age=min_age, max_age=max_age, on=_date(data.get("on"), "on"))
        if kind == "turns_18_between":
            start, end = _date(data.get("from"), "from"), _date(data.get("to"), "to")
            if start is None or end is None or end < start:
                raise WaveInvalid({"eligibility": ["from and to are dates, from not after to"]})
            return cls("turns_18_between", turns_18_from=start, turns_18_to=end)
        raise WaveInvalid({"eligibility": ["kind must be age or turns_18_between"]})

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "age":
            return {
                "kind": "age",
                "min_age": self.min_age,
                "max_age": self.max_age,
                "on": self.on.isoformat() if self.on else None,
            }
        assert self.turns_18_from is not None and self.turns_18_to is not None
        return {
            "kind": "turns_18_between",
            "from": self.turns_18_from.isoformat(),
            "to": self.turns_18_to.isoformat(),
        }

    def birth_dates(self, today: date) -> tuple[date | None, date]:
        """The birth dates (``low`` or None, ``high``, both included) that meet the rule on ``today``,
        18 or older today included."""
        high = latest_birth_for_age(ADULT_AGE, today)
        low: date | None = None
        if self.kind == "age":
            assert self.min_age is not None
            day = self.on or today
            high = min(high, latest_birth_for_age(self.min_age, day))
            if self.max_age is not None:
                low = latest_birth_for_age(self.max_age + 1, day) + timedelta(days=1)
        else:
            assert self.turns_18_from is not None and self.turns_18_to is not None
            # adult_from(b) <= d  <=>  age_on(b, d) >= 18, and adult_from grows with b
            low = latest_birth_for_age(ADULT_AGE, self.turns_18_from - timedelta(days=1)) + timedelta(days=1)
            high = min(high, latest_birth_for_age(ADULT_AGE, self.turns_18_to))
        return low, high


def _date(value: Any, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise WaveInvalid({"eligibility": [f"{name} must be a date (YYYY-MM-DD)"]}) from None


def latest_birth_for_age(age: int, day: date) -> date:
    """The latest birth date of someone ``age`` or older on ``day`` (29 February births count from
    1 March in other years, as :func:`engagement.participants.services.age_on` does)."""
    try:
        guess = day.replace(year=day.year - age)
    except ValueError:  # 29 February -> a year without one
        guess = date(day.year - age, 2, 28)
    while age_on(guess + timedelta(days=1), day) >= age:
        guess += timedelta(days=1)
    while age_on(guess, day) < age:
        guess -= timedelta(days=1)
    return guess


# --- waves ------------------------------------------------------------------------------------------


def create_wave(
    *,
    name: str,
    questionnaire_key: str,
    questionnaire_version: int,
    eligibility: Mapping[str, Any],
    opens_at: datetime,
    closes_at: datetime,
    rolling: bool = False,
    required_purposes: Collection[str] = (),
    reminder_policy: Mapping[str, Any] | None = None,
    created_by: uuid.UUID | None = None,
    at: datetime | None = None,
) -> Wave:
    """A new wave in status ``draft``; nothing is assigned until :func:`launch`."""
    at = at or clock.now()
    version = questionnaires.get_version(questionnaire_key, questionnaire_version)
    rule = Eligibility.from_dict(eligibility)
    problems: dict[str, list[str]] = {}
    if closes_at <= opens_at:
        problems["closes_at"] = ["must be after opens_at"]
    if closes_at <= at:
        problems.setdefault("closes_at", []).append("must be in the future")
    try:
        policy = ReminderPolicy.from_dict(reminder_policy or {})
    except PolicyError as exc:
        problems["reminder_policy"] = list(exc.problems)
    known = set(documents.current_document(at).purpose_codes)
    purposes = sorted({*required_purposes, version.consent_purpose})
    unknown = [p for p in purposes if p not in known]
    if unknown:
        problems["required_purposes"] = [f"not a purpose of the consent document: {', '.join(unknown)}"]
    if problems:
        raise WaveInvalid(problems)
    wave = Wave(
        name=name,
        questionnaire_version_id=version.id,
        eligibility=rule.to_dict(),
        required_purposes=purposes,
        opens_at=opens_at,
        closes_at=closes_at,
        is_rolling=rolling,
        reminder_policy=policy.to_dict(),
        status="draft",
        created_by=created_by,
        created_at=at,
    )
    db.session.add(wave)
    db.session.flush()
    return wave


def get_wave(wave_id: uuid.UUID, *, for_update: bool = False) -> Wave:
    query = sa.select(Wave).where(Wave.id == wave_id)
    if for_update:
        query = query.with_for_update()
    wave = db.session.scalars(query).first()
    if wave is None:
        raise WaveNotFound()
    return wave


def list_waves() -> list[Wave]:
    return list(db.session.scalars(sa.select(Wave).order_by(Wave.created_at.desc())))


def policy_of(wave: Wave) -> ReminderPolicy:
    """The wave's reminder policy, as stored with it."""
    return ReminderPolicy.from_dict(wave.reminder_policy)


def eligible_now(wave: Wave, at: datetime, *, new_only: bool = True) -> set[uuid.UUID]:
    """Who the wave's rule picks at ``at`` (``new_only``: not yet given a task by this wave)."""
    return set(db.session.scalars(eligible_query(wave, at, new_only=new_only)))


def may_get_tasks(purposes: Collection[str], at: datetime) -> sa.Select[uuid.UUID]:
    """The rule every task obeys, a wave's or one given directly, as a query of participant ids: 18 or
    older today (Europe/Oslo), consent to ``purposes`` and every required purpose, no withdrawal in
    force (the consent domain's own query)."""
    adult = latest_birth_for_age(ADULT_AGE, today_in_oslo(at))
    return sa.select(Participant.id).where(
        Participant.birth_date <= adult, Participant.id.in_(rules.reachable_query(purposes, at))
    )


def eligible_query(wave: Wave, at: datetime, *, new_only: bool = True) -> sa.Select[uuid.UUID]:
    """:func:`eligible_now` as a query: the wave's birth dates on top of :func:`may_get_tasks`."""
    low, high = Eligibility.from_dict(wave.eligibility).birth_dates(today_in_oslo(at))
    query = may_get_tasks(wave.required_purposes, at).where(Participant.birth_date <= high)
    if low is not None:
        query = query.where(Participant.birth_date >= low)
    if new_only:
        member = sa.select(Task.id).where(Task.wave_id == wave.id, Task.participant_id == Participant.id)
        query = query.where(~member.exists())
    return query


def assign_task(
    participant_id: uuid.UUID,
    questionnaire_key: str,
    questionnaire_version: int | None,
    opens_at: datetime | None,
    due_at: datetime | None,
    at: datetime,
    *,
    actor_id: uuid.UUID | None = None,
) -> Task:
    """Give one participant a task directly, under the same rule as waves (:func:`may_get_tasks`);
    :class:`ParticipantNotEligible` says why not."""
    version = questionnaires.get_version(questionnaire_key, questionnaire_version)
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        raise questionnaires.ParticipantNotFound()
    purposes = [version.consent_purpose]
    if db.session.scalar(may_get_tasks(purposes, at).where(Participant.id == participant_id)) is None:
        raise ParticipantNotEligible(
            "The participant is not eligible for this questionnaire now; see 'reasons'.",
            participant_id=str(participant_id),
            reasons=_why_not_eligible(participant, at),
        )
    task = questionnaires.create_task(participant_id, version, opens_at, due_at)
    audit.record(
        "task.assigned",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        object_type="task",
        object_id=task.id,
        details={"questionnaire": f"{version.key}:{version.version}"},
    )
    return task


def _why_not_eligible(participant: Participant, at: datetime) -> list[str]:
    """The reasons :func:`may_get_tasks` turned someone down, for the coordinator (the rule decides;
    this only explains it)."""
    if age_on(participant.birth_date, today_in_oslo(at)) < ADULT_AGE:
        return ["under_18"]
    if ledger.standing(participant.id, at).scope is not None:
        return ["withdrawn"]
    return ["no_consent"]


def preview(wave: Wave, at: datetime) -> dict[str, Any]:
    """How many the wave would reach now (and already has), and a sample of who."""
    eligible = eligible_now(wave, at, new_only=False)
    sample_ids = sorted(eligible)[:SAMPLE_SIZE]
    sample = db.session.execute(
        sa.select(Participant.id, Participant.cohort_person_id, Participant.birth_date)
        .where(Participant.id.in_(sample_ids))
        .order_by(Participant.cohort_person_id)
    ).all()
    return {
        "wave_id": wave.id,
        "at": at,
        "eligible": len(eligible),
        "tasks": task_count(wave.id),
        "sample": [{"participant_id": i, "cohort_person_id": c, "birth_date": b} for i, c, b in sample],
    }


def task_count(wave_id: uuid.UUID) -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).where(Task.wave_id == wave_id)) or 0)


def launch(wave_id: uuid.UUID, at: datetime, *, actor_id: uuid.UUID | None = None) -> tuple[Wave, int]:
    """Freeze the list and give every eligible participant a task, in bulk; returns ``(wave, created)``.

    Idempotent: a launched wave is returned as it is (0 created); later eligibility is what a
    rolling wave's :func:`refresh` is for.
    """
    db.lock_for_write()
    wave = get_wave(wave_id, for_update=True)
    if wave.status == "launched":
        return wave, 0
    if wave.status == "closed" or wave.closes_at <= at:
        raise WaveClosed()
    created = _add_tasks(wave, at)
    wave.status, wave.launched_at, wave.launched_count = "launched", at, created
    db.session.flush()
    audit.record(
        "wave.launched",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        object_type="wave",
        object_id=wave.id,
        details={"tasks": created},
    )
    return wave, created


def refresh(at: datetime) -> dict[uuid.UUID, int]:
    """Give newly eligible people a task in every open, launched rolling wave; returns wave -> created."""
    db.lock_for_write()
    waves = db.session.scalars(
        sa.select(Wave)
        .where(Wave.status == "launched", Wave.is_rolling.is_(True), Wave.closes_at > at)
        .order_by(Wave.created_at)
        .with_for_update()
    ).all()
    return {wave.id: _add_tasks(wave, at) for wave in waves}


def _add_tasks(wave: Wave, at: datetime) -> int:
    """Give a task to everyone :func:`eligible_now` picks, in one statement; existing (wave, participant)
    pairs are kept. On PostgreSQL the ids never leave the server (``INSERT ... SELECT``)."""
    opens_at = max(wave.opens_at, at)
    values = {
        "questionnaire_version_id": wave.questionnaire_version_id,
        "status": "open",
        "opens_at": opens_at,
        "due_at": wave.closes_at,
        "created_at": at,
        "wave_id": wave.id,
    }
    if db.is_postgres:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        # ON CONFLICT keeps those who have a task already (no anti-join for the planner to misjudge)
        chosen = eligible_query(wave, at, new_only=False).subquery()
        rows = sa.select(
            sa.func.gen_random_uuid(),
            chosen.c.id,
            *(sa.literal(value, Task.__table__.c[name].type) for name, value in values.items()),
        )
        statement = (
            pg_insert(Task)
            .from_select(["id", "participant_id", *values], rows)
            .on_conflict_do_nothing(index_elements=["wave_id", "participant_id"])
            .execution_options(preserve_rowcount=True)
        )
        return int(db.session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
    participant_ids = eligible_now(wave, at)
    if not participant_ids:
        return 0
    before = task_count(wave.id)
    from sqlalchemy.dialects.sqlite import insert

    db.session.execute(
        insert(Task).on_conflict_do_nothing(index_elements=["wave_id", "participant_id"]),
        [{"id": uuid.uuid4(), "participant_id": pid, **values} for pid in participant_ids],
    )
    return task_count(wave.id) - before


def close(wave_id: uuid.UUID, at: datetime, *, actor_id: uuid.UUID | None = None) -> tuple[Wave, int, int]:
    """Close the wave: open tasks expire and pending reminders are cancelled; returns
    ``(wave, tasks expired, reminders cancelled)``. Closing a closed wave changes nothing."""
    db.lock_for_write()
    wave = get_wave(wave_id, for_update=True)
    if wave.status == "closed":
        return wave, 0, 0
    expired = db.session.execute(
        sa.update(Task)
        .where(Task.wave_id == wave.id, Task.status.in_(ACTIVE_STATUSES))
        .values(status="expired", closed_at=at, closed_reason="wave_closed")
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    cancelled = outbox.cancel_reminders(Reminder.wave_id == wave.id, "wave_closed")
    wave.status, wave.closed_at = "closed", at
    db.session.flush()
    audit.record(
        "wave.closed",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        object_type="wave",
        object_id=wave.id,
        details={"tasks_expired": int(expired or 0), "reminders_cancelled": cancelled},
    )
    return wave, int(expired or 0), cancelled
