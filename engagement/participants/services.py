"""The identity vault, ages and the profile: a fødselsnummer becomes its keyed hash at the door and is
never kept. The roster and identity corrections are :mod:`engagement.participants.roster`.

Nothing here logs, stores or returns a fødselsnummer; errors about one name the line and the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import available_timezones

import sqlalchemy as sa
from flask import current_app

from engagement import clock
from engagement.extensions import db
from engagement.participants import person_number
from engagement.participants.models import Participant
from engagement.problems import NotFound, ValidationFailed

ADULT_AGE = 18  # the age of login, of consent and of every wave
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# --- the fødselsnummer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonNumber:
    """What a valid number tells (never the number itself): day, month, two-digit year, and its kind."""

    day: int
    month: int
    year2: int
    is_d_number: bool
    is_synthetic: bool


class InvalidPersonNumber(ValueError):
    """The reason a number is not a valid fødselsnummer or D-number (the message never holds the number)."""


def parse_person_number(value: str, *, allow_synthetic: bool) -> PersonNumber:
    """Validate a fødselsnummer or D-number: eleven digits, a plausible date, and both mod-11 check digits.

    The check digits as :mod:`engagement.participants.person_number` reads them (the 2032 rule included).
    Synthetic test numbers (Tenor: month + 80) only when ``allow_synthetic``.
    """
    digits = value.strip() if isinstance(value, str) else ""
    if len(digits) != 11 or not digits.isdigit():
        raise InvalidPersonNumber("must be exactly eleven digits")
    first, second = person_number.remainders([int(c) for c in digits])
    if first not in person_number.FIRST_REMAINDERS:
        raise InvalidPersonNumber("the first check digit does not match")
    if second != 0:
        raise InvalidPersonNumber("the second check digit does not match")
    day, month, year2 = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    is_d = day > 40
    if is_d:
        day -= 40
    is_synthetic = month > 80
    if is_synthetic:
        if not allow_synthetic:
            raise InvalidPersonNumber("synthetic test numbers are not accepted here")
        month -= 80
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        raise InvalidPersonNumber("the date part is not a date")
    return PersonNumber(day, month, year2, is_d, is_synthetic)


def allow_synthetic() -> bool:
    return bool(current_app.config["ALLOW_SYNTHETIC_PID"]) and current_app.config["ENV"] != "production"


def hash_pid(pid: str) -> str:
    """HMAC-SHA256 of a fødselsnummer or D-number with the service's pepper (hex)."""
    pepper = current_app.config["PID_PEPPER"].encode()
    return hmac.new(pepper, pid.strip().encode(), hashlib.sha256).hexdigest()


def find_by_pid(pid: str) -> Participant | None:
    """The roster participant with this (already validated) number, by its keyed hash."""
    return db.session.scalar(sa.select(Participant).where(Participant.pid_hash == hash_pid(pid)))


# --- age ------------------------------------------------------------------------------------------


def today_in_oslo(now: datetime | None = None) -> date:
    return (now or clock.now()).astimezone(clock.OSLO).date()


def birthday_in(year: int, birth_date: date) -> date:
    """The birthday in ``year``; 29 February births have it on 1 March in other years."""
    if birth_date.month == 2 and birth_date.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 3, 1)
    return birth_date.replace(year=year)


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    return years if day >= birthday_in(day.year, birth_date) else years - 1


def adult_from(birth_date: date) -> date:
    """The first day (Europe/Oslo) on which this person is 18 and may log in."""
    return birthday_in(birth_date.year + ADULT_AGE, birth_date)


def is_adult(birth_date: date, at: datetime | date) -> bool:
    """18 or older on the day ``at`` (an instant: its day in Europe/Oslo): may log in, decide on
    consent, get a task."""
    day = today_in_oslo(at) if isinstance(at, datetime) else at
    return age_on(birth_date, day) >= ADULT_AGE


def coming_of_age(birth_date: date) -> datetime:
    """The start (Oslo midnight) of the 18th birthday."""
    return datetime.combine(adult_from(birth_date), time(0), tzinfo=clock.OSLO)


# --- profile --------------------------------------------------------------------------------------

ProfileExtra = Callable[[Participant, datetime], Mapping[str, Any]]


def get_participant(participant_id: uuid.UUID) -> Participant:
    participant = db.session.get(Participant, participant_id)
    if participant is None:
        raise NotFound("No such participant.")
    return participant


def profile(participant: Participant, now: datetime) -> dict[str, Any]:
    """The participant's own profile; higher layers add fields (e.g. ``consent_decision_pending``)
    through the callables in ``app.extensions["engagement.profile_extras"]``."""
    data: dict[str, Any] = {
        "id": participant.id,
        "language": participant.language,
        "time_zone": participant.time_zone,
        "age": age_on(participant.birth_date, today_in_oslo(now)),
        "preferred_reminder_hours": participant.preferred_reminder_hours,
    }
    extras: list[ProfileExtra] = current_app.extensions.get("engagement.profile_extras", [])
    for extra in extras:
        data.update(extra(participant, now))
    return data


def update_preferences(participant: Participant, changes: Mapping[str, Any], now: datetime) -> Participant:
    """Change language, time zone and preferred reminder hours (each optional)."""
    if "language" in changes:
        participant.language = changes["language"]
        participant.is_language_chosen = True
    if "time_zone" in changes:
        if changes["time_zone"] not in _time_zones():
            raise ValidationFailed({"json": {"time_zone": ["Not a known IANA time zone."]}})
        participant.time_zone = changes["time_zone"]
    if "preferred_reminder_hours" in changes:
        hours = changes["preferred_reminder_hours"]
        participant.preferred_reminder_hours = sorted(set(hours)) if hours is not None else None
    participant.updated_at = now
    db.session.flush()
    return participant


def _time_zones() -> set[str]:
    zones: set[str] | None = current_app.extensions.get("engagement.time_zones")
    if zones is None:
        zones = available_timezones()
        current_app.extensions["engagement.time_zones"] = zones
    return zones
