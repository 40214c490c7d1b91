"""When to remind: pure rules over a reminder policy, a task's dates and the participant's time zone.

Nothing here touches Flask, the database or the clock; callers pass ``now`` and what was already sent.
Every instant in and out is an aware datetime; every instant out is UTC.

Rules (the waves' coordinators choose the numbers, these are the semantics):

* **Offsets** are whole local calendar days after the day the task opens: offset ``n`` means the
  participant's local date ``open_date + n``, never ``opens_at + n * 24 h`` (that drifts an hour across a
  DST change). Sequence numbers are 1-based positions in ``offsets_days``; with a wave's frozen policy
  they are stable, so ``(task, sequence)`` is a safe unique key.
* **Allowed time** is the local sending window minus the quiet hours, every day. A reminder is sent at
  the first allowed instant on its day that is not before the task opens; if its day has none left, it
  moves to the next allowed instant (a later day), and never two reminders of one task on one local day.
* **DST.** A local time that does not exist (the spring-forward gap, 02:00-03:00 in Europe/Oslo) is read
  forward: 02:30 means 03:30. A local time that occurs twice (the autumn fold) means its first occurrence;
  a window or quiet period that spans the repeated hour spans both occurrences.
* **Max per wave** bounds how many reminders a task gets (sent ones count); the planner never plans more.
* **Weekly cap** is across waves, over a rolling 7 x 24 h period ending at the send instant, and so is the
  **minimum gap** between two reminders to one participant. Both depend on what other waves sent by then,
  so :func:`decide` checks them at send time (the planner cannot know): over the cap, the reminder is
  deferred to the first allowed instant at which the cap admits it, or skipped when that is not before
  the task is due. Outside the allowed time, :func:`decide` defers, never drops.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from engagement.clock import zone_of

CAP_PERIOD = timedelta(days=7)
_SEARCH_DAYS = 400  # an allowed slot is found within a day whenever one exists; this only bounds bad input


class PolicyError(ValueError):
    """A reminder policy is invalid; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class LocalPeriod:
    """A daily period of local wall-clock time, ``start`` inclusive, ``end`` exclusive.

    ``end <= start`` means the period wraps past midnight (22:00-07:00).
    """

    start: time
    end: time

    def pieces(self) -> list[tuple[time | None, time | None]]:
        """The period as at most two same-day pieces; ``None`` stands for midnight at either end."""
        if self.start < self.end:
            return [(self.start, self.end)]
        return [(self.start, None), (None, self.end)]

    def contains(self, t: time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


@dataclass(frozen=True)
class ReminderPolicy:
    """How a wave reminds. Frozen per wave; stored as JSON with :meth:`to_dict` / :meth:`from_dict`."""

    offsets_days: tuple[int, ...] = (0, 3, 7, 14)
    window: LocalPeriod = field(default_factory=lambda: LocalPeriod(time(17), time(20)))
    quiet_hours: tuple[LocalPeriod, ...] = (LocalPeriod(time(21), time(9)),)
    max_per_wave: int = 4
    weekly_cap: int = 3
    min_gap_hours: int = 20

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise PolicyError(problems)

    def problems(self) -> list[str]:
        """Every reason this policy cannot be used (empty when valid)."""
        problems: list[str] = []
        offsets = self.offsets_days
        if not offsets:
            problems.append("offsets_days must name at least one day")
        if any(not isinstance(o, int) or isinstance(o, bool) or o < 0 or o > 365 for o in offsets):
            problems.append("offsets_days must be whole days from 0 to 365")
        elif list(offsets) != sorted(set(offsets)):
            problems.append("offsets_days must be strictly increasing")
        if not self.window.start < self.window.end:
            problems.append("window must start before it ends on the same day")
        elif self._allowed_pieces() == []:
            problems.append("quiet_hours cover the whole sending window")
        for name, low, high in (
            ("max_per_wave", 1, 50),
            ("weekly_cap", 1, 50),
            ("min_gap_hours", 0, 168),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                problems.append(f"{name} must be a whole number from {low} to {high}")
        return problems

    # --- JSON round trip -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` gives back an equal policy."""
        return {
            "offsets_days": list(self.offsets_days),
            "window": _period_to_dict(self.window),
            "quiet_hours": [_period_to_dict(p) for p in self.quiet_hours],
            "max_per_wave": self.max_per_wave,
            "weekly_cap": self.weekly_cap,
            "min_gap_hours": self.min_gap_hours,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReminderPolicy:
        """Parse and validate; missing keys take the defaults, unknown keys are refused.

        Raises :class:`PolicyError` naming every problem.
        """
        if not isinstance(data, Mapping):
            raise PolicyError(["a reminder policy must be an object"])
        problems = [f"unknown field {key!r}" for key in sorted(set(data) - set(_FIELD_PARSERS))]
        kwargs: dict[str, Any] = {}
        for name, parse in _FIELD_PARSERS.items():
            if name in data:
                try:
                    kwargs[name] = parse(data[name])
                except ValueError as exc:
                    problems.append(str(exc))
        try:
            policy = cls(**kwargs)
        except PolicyError as exc:
            problems.extend(exc.problems)
        if problems:
            raise PolicyError(problems)
        return policy

    # --- allowed time ----------------------------------------------------------------------------

    def _allowed_pieces(self) -> list[tuple[time, time | None]]:
        """The window minus the quiet hours, as same-day local pieces (``None`` end = midnight)."""
        pieces: list[tuple[time, time | None]] = [(self.window.start, self.window.end)]
        for quiet in self.quiet_hours:
            for q_start, q_end in quiet.pieces():
                pieces = [rest for piece in pieces for rest in _subtract(piece, q_start, q_end)]
        return sorted(pieces, key=lambda p: p[0])

    def allows(self, at: datetime, zone: ZoneInfo) -> bool:
        """Whether ``at`` lies in the sending window and outside quiet hours, in local time."""
        return next_allowed(self, at, zone) == at.astimezone(UTC)


def _subtract(
    piece: tuple[time, time | None], q_start: time | None, q_end: time | None
) -> list[tuple[time, time | None]]:
    # seconds of the day; ``None`` is midnight: 0 as a start, 24:00 as an end
    a, b = _second(piece[0], 0), _second(piece[1], _DAY)
    qa, qb = _second(q_start, 0), _second(q_end, _DAY)
    rest = [(a, b)] if qb <= a or qa >= b else [(a, min(qa, b)), (max(qb, a), b)]
    return [(_time_of(x), None if y == _DAY else _time_of(y)) for x, y in rest if x < y]


_DAY = 86_400


def _second(t: time | None, midnight: int) -> int:
    return midnight if t is None else t.hour * 3600 + t.minute * 60 + t.second


def _time_of(second: int) -> time:
    return time(second // 3600, second // 60 % 60, second % 60)


def _parse_offsets(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("offsets_days must be a list of whole days")
    return tuple(value)


def _parse_quiet(value: Any) -> tuple[LocalPeriod, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("quiet_hours must be a list of {start, end}")
    return tuple(_period_from_dict("quiet_hours", q) for q in value)


def _as_is(value: Any) -> Any:
    return value  # validated by ReminderPolicy itself


_FIELD_PARSERS: dict[str, Callable[[Any], Any]] = {
    "offsets_days": _parse_offsets,
    "window": lambda value: _period_from_dict("window", value),
    "quiet_hours": _parse_quiet,
    "max_per_wave": _as_is,
    "weekly_cap": _as_is,
    "min_gap_hours": _as_is,
}


def _period_to_dict(p: LocalPeriod) -> dict[str, str]:
    return {"start": p.start.strftime("%H:%M"), "end": p.end.strftime("%H:%M")}


def _period_from_dict(name: str, value: Any) -> LocalPeriod:
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        raise ValueError(f"{name} must be an object with exactly start and end (HH:MM)")
    return LocalPeriod(_parse_hhmm(name, value["start"]), _parse_hhmm(name, value["end"]))


def _parse_hhmm(name: str, value: Any) -> time:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise ValueError(f"{name} times must be HH:MM, got {value!r}")
    try:
        return time(int(value[:2]), int(value[3:]))
    except ValueError:
        raise ValueError(f"{name} times must be HH:MM, got {value!r}") from None


# --- time zones and local time -------------------------------------------------------------------


def local_instant(day: date, at: time | None, zone: ZoneInfo) -> datetime:
    """The UTC instant of local wall time ``at`` on ``day`` (``None`` = the following midnight).

    A time in the spring-forward gap is read forward (02:30 -> 03:30); a time in the autumn fold means
    its first occurrence.
    """
    if at is None:
        day, at = day + timedelta(days=1), time(0)
    # fold=0 applies the offset in force before a transition: forward in a gap, first in a fold
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_allowed(policy: ReminderPolicy, after: datetime, zone: ZoneInfo) -> datetime:
    """The earliest instant at or after ``after`` inside the window and outside quiet hours (UTC)."""
    _require_aware(after, "after")
    after = after.astimezone(UTC)
    pieces = policy._allowed_pieces()
    day = after.astimezone(zone).date() - timedelta(days=1)  # a fold can map the instant to either day
    for _ in range(_SEARCH_DAYS):
        for start, end in pieces:
            lo, hi = local_instant(day, start, zone), local_instant(day, end, zone)
            if hi > after and lo < hi:
                return max(lo, after)
        day += timedelta(days=1)
    raise PolicyError(["the policy allows no sending time"])  # unreachable for a validated policy


# --- planning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedReminder:
    """One reminder of one task: its 1-based ``sequence``, the offset it came from, and when to send."""

    sequence: int
    offset_days: int
    send_at: datetime


def plan_task(
    policy: ReminderPolicy,
    *,
    opens_at: datetime,
    due_at: datetime | None,
    timezone: str | None = None,
    sent: Iterable[int] = (),
    until: datetime | None = None,
    spread_key: str | None = None,
    spread_minutes: int = 0,
) -> list[PlannedReminder]:
    """The reminders of one task still to send, in order, with their send instants (UTC).

    ``sent`` holds the sequences already sent (or otherwise settled); they are not returned but count
    towards ``max_per_wave`` and keep their days. Reminders at or after ``due_at`` are not planned.
    ``until`` keeps only those due by then (the planner's horizon). ``spread_key`` (for example the task
    id) with ``spread_minutes`` moves each send a stable pseudo-random number of minutes later, so a
    wave does not arrive at the same second for everyone; the result still lies in allowed time.
    """
    _require_aware(opens_at, "opens_at")
    if due_at is not None:
        _require_aware(due_at, "due_at")
    zone = zone_of(timezone)
    settled = set(sent)
    open_day = opens_at.astimezone(zone).date()
    budget = policy.max_per_wave
    planned: list[PlannedReminder] = []
    last_day: date | None = None
    for sequence, offset in enumerate(policy.offsets_days, start=1):
        if budget <= 0:
            break
        budget -= 1
        earliest = max(local_instant(open_day + timedelta(days=offset), time(0), zone), opens_at)
        if last_day is not None:
            earliest = max(earliest, local_instant(last_day + timedelta(days=1), time(0), zone))
        send_at = next_allowed(policy, earliest, zone)
        if spread_key is not None and spread_minutes > 0:
            send_at = _spread(policy, send_at, zone, spread_key, sequence, spread_minutes)
        if due_at is not None and send_at >= due_at:
            break
        last_day = send_at.astimezone(zone).date()
        if sequence in settled:
            continue
        if until is not None and send_at > until:
            continue
        planned.append(PlannedReminder(sequence, offset, send_at))
    return planned


def _spread(
    policy: ReminderPolicy, at: datetime, zone: ZoneInfo, key: str, sequence: int, minutes: int
) -> datetime:
    digest = hashlib.sha256(f"{key}:{sequence}".encode()).digest()
    shifted = at + timedelta(minutes=int.from_bytes(digest[:4], "big") % minutes)
    # stay in the same allowed stretch: if the shift left it, fall back to the unshifted instant
    same_day = shifted.astimezone(zone).date() == at.astimezone(zone).date()
    return shifted if same_day and next_allowed(policy, shifted, zone) == shifted else at


# --- the send-time check -------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    kind: Literal["send"] = "send"


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str
    kind: Literal["defer"] = "defer"


@dataclass(frozen=True)
class Skip:
    reason: str
    kind: Literal["skip"] = "skip"


Decision = Send | Defer | Skip


def decide(
    policy: ReminderPolicy,
    *,
    now: datetime,
    timezone: str | None = None,
    due_at: datetime | None = None,
    task_open: bool = True,
    wave_open: bool = True,
    contact_allowed: bool = True,
    sent_in_wave: int = 0,
    recent_sends: Iterable[datetime] = (),
) -> Decision:
    """Whether to send a reminder now, at send time, after everything may have changed.

    ``sent_in_wave`` counts this task's reminders already sent; ``recent_sends`` are the instants of
    the participant's reminders from every wave (the last ``CAP_PERIOD`` is enough). Outcomes:
    :class:`Skip` with reason ``task_closed``, ``wave_closed``, ``no_contact``, ``max_per_wave``,
    ``past_due`` or ``weekly_cap`` (the cap admits it only at or after ``due_at``) / ``no_slot_before_due``;
    :class:`Defer` with reason ``outside_window``, ``weekly_cap`` or ``min_gap`` and the instant to try
    again; :class:`Send` otherwise.
    """
    _require_aware(now, "now")
    now = now.astimezone(UTC)
    if not task_open:
        return Skip("task_closed")
    if not wave_open:
        return Skip("wave_closed")
    if not contact_allowed:
        return Skip("no_contact")
    if sent_in_wave >= policy.max_per_wave:
        return Skip("max_per_wave")
    if due_at is not None and now >= due_at:
        return Skip("past_due")
    zone = zone_of(timezone)
    sends: list[datetime] = []
    for sent_at in recent_sends:
        _require_aware(sent_at, "recent_sends")
        sends.append(sent_at.astimezone(UTC))
    sends.sort()
    gap = timedelta(hours=policy.min_gap_hours)

    at, reasons = now, []
    for _ in range(3 * len(sends) + 4):  # every move but a window move passes an earlier send
        moved_to = next_allowed(policy, at, zone)
        if moved_to != at:
            at = moved_to
            reasons.append("outside_window")
            continue
        in_period = [s for s in sends if at - CAP_PERIOD < s <= at]
        if len(in_period) >= policy.weekly_cap:
            # wait until the oldest sends leave the period and only weekly_cap - 1 remain inside it
            at = in_period[len(in_period) - policy.weekly_cap] + CAP_PERIOD
            reasons.append("weekly_cap")
            continue
        too_close = [s for s in sends if at - gap < s <= at]
        if too_close:
            at = too_close[-1] + gap
            reasons.append("min_gap")
            continue
        break
    else:  # pragma: no cover - the bound above is never reached
        raise RuntimeError("decide() did not settle")
    if at == now:
        return Send()
    if due_at is not None and at >= due_at:
        return Skip("weekly_cap" if "weekly_cap" in reasons else "no_slot_before_due")
    return Defer(at, "weekly_cap" if "weekly_cap" in reasons else reasons[0])


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
