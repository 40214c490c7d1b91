"""Demo data for ``make run``: a few hundred synthetic participants with consents, logins and
withdrawals, and activity in the demo wave (answers and reminders over the last days), so that every
console page has something to show. Synthetic numbers only (Tenor: month + 80). Development only.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from engagement import clock
from engagement.extensions import db

COHORT = 300


def ung18_answers(version: int = 1, **changes: Any) -> dict[str, Any]:
    """A complete, valid answer set for ung18 v1 or v2 (a young woman who has moved out)."""
    answers: dict[str, Any] = {
        "XA10": [2, 9],
        "XA23_TEKST": None,
        "XA24": True,
        "XA25": 2,
        "XA26": [4],
        "XA32": 1,
        "XA33": 12,
        "XA34": 6,
        "XA37": 1,
        "XA38": 1,
        "XA39": False,
        "XA40": 168,
        "XA41": 62,
        "XA42": 2,
        "XA43": 7,
        "XA44": 4,
        "XA45": "23:30",
        "XA46": 7.5,
        "XA48": False,
        "XA49": False,
        "XA75": 1,
        "XA76": 3,
        "XA76_N": 5,
        "XA77": 1,
        "XA78": 3,
        "XA79": 2,
        "XA80": 2,
        "XA81": False,
        "XA85": True,
        "XA86": "2025-08",
        "XA87": "2025-08-15",
        "XA88": 3,
        "XA90_TEKST": "Nei takk, 01.02.2003 er ingen dato å sende.",
    }
    answers.update({f"XA{n}": 1 + n % 4 for n in range(50, 55)})
    answers.update({f"XA{n}": 1 + n % 7 for n in range(55, 60)})
    answers.update({f"XA{n}": 1 + n % 3 for n in range(60, 73)})
    if version == 2:
        for name in ("XA42", "XA46", "XA77"):
            answers.pop(name)
        answers.update({"XA47": 3, "XA83": 2})
    answers.update(changes)
    return {k: v for k, v in answers.items() if v is not None}


def seed_demo_cohort() -> list[str]:
    """Synthetic participants aged 17 to 23 (some turned 18 this month), most of them consented,
    some logged in, a few withdrawn; once, on a database with only the demo roster's people."""
    from engagement.auth import sessions
    from engagement.consent import documents, ledger
    from engagement.dev.identities import synthetic_number
    from engagement.participants import services as participants
    from engagement.participants.models import Participant
    from engagement.participants.roster import import_roster
    from engagement.withdrawal import services as withdrawal

    if (db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) or 0) > 20:
        return ["demo cohort: the roster is seeded already, left as it is"]
    chance = random.Random(18)  # noqa: S311 (demo data, not a secret)
    today = participants.today_in_oslo()
    records = []
    for i in range(COHORT):
        if i < 12:  # turned 18 this month
            born = date(today.year - 18, today.month, 1) + timedelta(days=i % max(1, today.day))
        elif i < 20:  # not 18 yet
            born = date(today.year - 17, 1, 1) + timedelta(days=i * 9)
        else:
            born = date(today.year - 23, 1, 1) + timedelta(days=chance.randrange(0, 5 * 365))
        language = ("nb", "nb", "nb", "nn", "en")[i % 5]
        pid = synthetic_number(born, start=200 + i % 700)
        records.append(
            (i + 1, {"cohort_person_id": f"DEMO-C{i:04d}", "fodselsnummer": pid, "birth_date": str(born),
                     "language": language})
        )  # fmt: skip
    # two demo people born the same day would get the same first free number: skip the repeats
    seen: set[str] = set()
    unique = []
    for line, record in records:
        if record["fodselsnummer"] not in seen:
            seen.add(record["fodselsnummer"])
            unique.append((line, record))
    result = import_roster(unique)
    now = clock.now()
    document = documents.current_document(now)
    codes = document.purpose_codes
    required = {p["code"] for p in document.content["purposes"] if p["required"]}
    cohort = db.session.scalars(
        sa.select(Participant)
        .where(Participant.cohort_person_id.like("DEMO-C%"))
        .order_by(Participant.cohort_person_id)
    ).all()
    decided = logged_in = withdrawn = 0
    for participant in cohort:
        if not participants.is_adult(participant.birth_date, now):
            continue
        roll = chance.random()
        if roll < 0.05:
            continue  # not decided yet
        decisions = {c: ("yes" if c in required or roll < 0.8 else "no") for c in codes}
        decided_at = max(participants.coming_of_age(participant.birth_date), document.published_at)
        ledger.record_decisions(participant.id, document, decisions, decided_at, ledger.Evidence())
        decided += 1
        if chance.random() < 0.45:
            sessions.open_session(
                kind="participant",
                client_id="moba-app",
                participant_id=participant.id,
                upstream_issuer="demo",
                upstream_sid=uuid.uuid4().hex,
                acr="idporten-loa-substantial",
                auth_time=now,
            )
            logged_in += 1
    for participant, scope in zip(
        [p for p in cohort if participants.is_adult(p.birth_date, now)][-4:],
        ("no_contact", "no_new_data", "delete_data", "delete_data"),
        strict=False,
    ):
        withdrawal.apply_withdrawal(
            participant, scope, now, ledger.Evidence(), delete_childhood_data=scope == "delete_data"
        )
        withdrawn += 1
    db.session.commit()
    return [
        f"demo cohort: {result.created} synthetic participants, {decided} consented, "
        f"{logged_in} logged in, {withdrawn} withdrawn"
    ]


def seed_demo_activity() -> list[str]:
    """Answers and reminders in the demo wave over its first days: most people answer, many after a
    reminder; some reminders are opened, a few fail. Once, on a wave without responses."""
    from engagement.questionnaires import services as questionnaires
    from engagement.questionnaires.models import Response, Task
    from engagement.waves.models import Reminder, ReminderAttempt, Wave

    wave = db.session.scalars(
        sa.select(Wave).where(Wave.status == "launched").order_by(Wave.created_at)
    ).first()
    if wave is None:
        return ["demo activity: no launched wave"]
    tasks = db.session.scalars(sa.select(Task).where(Task.wave_id == wave.id).order_by(Task.id)).all()
    if db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(
            Response.task_id.in_([t.id for t in tasks]))):  # fmt: skip
        return ["demo activity: the demo wave has answers already, left as they are"]
    chance = random.Random(42)  # noqa: S311 (demo data, not a secret)
    now = clock.now()
    start = wave.launched_at or now
    answered = reminded = 0
    for task in tasks:
        answer_day = chance.choice([0, 1, 1, 2, 3, 4, 5, 6, 8, 10, None, None, None])
        for sequence, offset in enumerate((1, 4, 8), start=1):
            sent_at = start + timedelta(days=offset, hours=17 - start.hour % 24)
            if sent_at >= now or (answer_day is not None and answer_day < offset):
                break
            failed = chance.random() < 0.04
            reminder = Reminder(
                task_id=task.id, sequence=sequence, wave_id=wave.id, participant_id=task.participant_id,
                status="failed" if failed else "sent", planned_at=sent_at, due_at=sent_at,
                deadline_at=sent_at + timedelta(hours=3), attempts=1, sent_at=None if failed else sent_at,
                opened_at=sent_at + timedelta(minutes=chance.randrange(5, 300)) if not failed and chance.random() < 0.35 else None,
                reason="unregistered" if failed else None, template="reminder", template_version=1,
            )  # fmt: skip
            db.session.add(reminder)
            db.session.flush()
            db.session.add(
                ReminderAttempt(
                    reminder_id=reminder.id, attempt=1, worker="demo", attempted_at=sent_at,
                    outcome="unregistered" if failed else "sent", detail=None,
                )
            )  # fmt: skip
            reminded += 1
        if answer_day is None:
            continue
        when = start + timedelta(days=answer_day, hours=chance.randrange(1, 10))
        if when >= now:
            continue
        with clock.frozen(when):
            questionnaires.submit(
                task.participant_id, task.id, uuid.uuid4(), ung18_answers(task.questionnaire_version.version)
            )
        answered += 1
    db.session.commit()
    return [f"demo activity: {answered} answers and {reminded} reminders in {wave.name!r}"]
