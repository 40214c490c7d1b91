"""The one clock, and the default time zone. Tests freeze the clock with :func:`frozen`; nothing else
calls ``datetime.now``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The zone days and hours are reckoned in when a participant has not chosen one (birthdays, reminders).
DEFAULT_TIME_ZONE = "Europe/Oslo"
OSLO = ZoneInfo(DEFAULT_TIME_ZONE)  # the cohort's calendar: ages, eligibility, what staff are shown

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Freeze :func:`now` at ``at`` (aware) for the duration of the block."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen() needs an aware datetime")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous


def advance(by: timedelta) -> None:
    """Move a frozen clock forward."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("advance() only works inside frozen()")
    _frozen = _frozen + by


def zone_of(name: str | None) -> ZoneInfo:
    """A participant's zone by name; an unknown or missing name gives :data:`OSLO`."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return OSLO
