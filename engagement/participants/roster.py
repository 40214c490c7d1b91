"""The roster and who each record is: a roster file checked line by line (a dry run says what each
line would do, and why not), staged and applied; and the explicit correction of a record's identity.
A fødselsnummer becomes its keyed hash at the door (:mod:`engagement.participants.services`) and is
never kept, logged or returned; errors about one name the line and the reason.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from engagement import audit, clock
from engagement.extensions import db
from engagement.logs import redact
from engagement.participants.models import LANGUAGES, Participant, RosterUpload
from engagement.participants.services import (
    InvalidPersonNumber,
    PersonNumber,
    allow_synthetic,
    hash_pid,
    parse_person_number,
)
from engagement.problems import Conflict, NotFound, ValidationFailed

_COHORT_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
ROSTER_COLUMNS = ("cohort_person_id", "fodselsnummer", "birth_date", "language")
# --- the roster -----------------------------------------------------------------------------------


@dataclass
class RosterRow:
    line: int
    cohort_person_id: str
    pid_hash: str
    birth_date: date
    language: str


@dataclass
class RosterResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class LineProblem:
    line: int
    reasons: list[str] = field(default_factory=list)


class RosterRejected(ValidationFailed):
    """The roster file had bad lines; nothing was changed. ``errors.lines`` lists each with its reasons."""

    slug, title = "roster-rejected", "The roster was not imported"


def parse_roster(data: bytes, media_type: str) -> list[tuple[int, Mapping[str, Any]]]:
    """(line number, raw record) pairs from CSV (comma or semicolon, header line 1) or a JSON array
    (the "line" of a JSON record is its 1-based position in the array)."""
    if media_type == "application/json":
        try:
            records = json.loads(data.decode("utf-8-sig"))
        except (ValueError, RecursionError) as exc:  # also an integer beyond the parser's digit limit
            raise _rejected([LineProblem(0, [f"not valid JSON ({type(exc).__name__})"])]) from None
        if isinstance(records, dict) and set(records) == {"rows"}:
            records = records["rows"]
        if not isinstance(records, list):
            raise _rejected([LineProblem(0, ["expected a JSON array of roster records"])])
        not_records = [i for i, r in enumerate(records, 1) if not isinstance(r, dict)]
        if not_records:  # not a roster at all (the schema's shape), so no line-by-line dry run either
            raise _rejected(
                [LineProblem(i, ["expected an object with the roster columns"]) for i in not_records]
            )
        return list(enumerate(records, 1))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _rejected([LineProblem(0, ["the file is not UTF-8 text"])]) from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    unknown = [h for h in header if h not in ROSTER_COLUMNS]
    if missing or unknown:
        reasons = [f"missing column {c}" for c in missing] + [f"unknown column {c}" for c in unknown]
        raise _rejected([LineProblem(1, reasons)])
    rows: list[tuple[int, Mapping[str, Any]]] = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        line = reader.line_num
        if len(values) != len(header):
            rows.append((line, {"__columns__": len(values)}))
            continue
        rows.append((line, dict(zip(header, values, strict=True))))
    return rows


def _rejected(problems: list[LineProblem]) -> RosterRejected:
    lines = [{"line": p.line, "reasons": p.reasons} for p in sorted(problems, key=lambda p: p.line)]
    return RosterRejected(
        {"lines": lines}, detail=f"{len(lines)} line(s) are not valid; nothing was imported. See 'errors'."
    )


def _validate_record(line: int, raw: Mapping[str, Any], synthetic_ok: bool) -> RosterRow | LineProblem:
    problem = LineProblem(line)
    if "__columns__" in raw:
        problem.reasons.append(f"expected {len(ROSTER_COLUMNS)} columns, got {raw['__columns__']}")
        return problem
    extra = sorted(set(raw) - set(ROSTER_COLUMNS))
    if extra:
        problem.reasons.append("unknown field(s): " + ", ".join(extra))
    cohort_id = str(raw.get("cohort_person_id") or "").strip()
    if not _COHORT_ID.match(cohort_id):
        problem.reasons.append("cohort_person_id: 1-32 letters, digits, '.', '_' or '-'")
    born: date | None = None
    try:
        born = date.fromisoformat(str(raw.get("birth_date") or "").strip())
    except ValueError:
        problem.reasons.append("birth_date: not an ISO date (YYYY-MM-DD)")
    language = str(raw.get("language") or "").strip().lower()
    if language not in LANGUAGES:
        problem.reasons.append(f"language: one of {', '.join(LANGUAGES)}")
    number = raw.get("fodselsnummer")
    number = number.strip() if isinstance(number, str) else ""
    parsed: PersonNumber | None = None
    try:
        parsed = parse_person_number(number, allow_synthetic=synthetic_ok)
    except InvalidPersonNumber as exc:
        problem.reasons.append(f"fodselsnummer: {exc}")
    if (
        parsed is not None
        and born is not None
        and ((parsed.day, parsed.month, parsed.year2) != (born.day, born.month, born.year % 100))
    ):
        problem.reasons.append("fodselsnummer: does not match birth_date")
    if problem.reasons or born is None:
        return problem
    return RosterRow(line, cohort_id, hash_pid(number), born, language)


class RosterUploadNotFound(NotFound):
    slug, title = "roster-upload-not-found", "No such roster dry run"


# a dry run waits this long for its uploader to apply it
STAGED_FOR = timedelta(hours=1)


@dataclass
class RosterLine:
    """What importing one roster line would do: ``create``, ``update``, ``unchanged`` or ``refused`` (with
    the reasons). ``masked_pid`` shows the fødselsnummer with its personal number hidden."""

    line: int
    outcome: str
    cohort_person_id: str
    masked_pid: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class RosterPlan:
    """A dry run of a roster import, line by line; nothing is changed until it is applied."""

    lines: list[RosterLine]
    rows: list[RosterRow]
    existing: dict[str, Participant]
    file_problems: list[LineProblem] = field(default_factory=list)

    @property
    def problems(self) -> list[LineProblem]:
        refused = [LineProblem(x.line, x.reasons) for x in self.lines if x.outcome == "refused"]
        return self.file_problems + refused

    def count(self, outcome: str) -> int:
        return sum(1 for x in self.lines if x.outcome == outcome)


IDENTITY_CHANGE_REFUSED = (
    "fodselsnummer differs from the one on record for this cohort_person_id; "
    "a change of identity is an identity correction, never a roster import"
)
PID_OF_ANOTHER_RECORD = "fodselsnummer belongs to another cohort_person_id"


def mask_person_number(value: Any) -> str:
    """A fødselsnummer as staff may see it: the birth date digits, the personal number hidden."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return ""
    return text[:6] + "*" * max(0, len(text) - 6) if text.isdigit() else "*" * min(len(text), 11)


def plan_roster(records: Iterable[tuple[int, Mapping[str, Any]]]) -> RosterPlan:
    """The dry run of :func:`import_roster`: what it would do with each line, changing nothing.

    A line is refused when it is not valid, repeats an earlier line's cohort_person_id or number,
    names an existing cohort_person_id with another fødselsnummer (moving a record to another person
    is :func:`correct_identity`'s, never an import's), or carries a number bound to another record."""
    synthetic_ok = allow_synthetic()
    rows: list[RosterRow] = []
    lines: dict[int, RosterLine] = {}
    seen_ids: dict[str, int] = {}
    seen_hashes: dict[str, int] = {}
    for line, raw in records:
        cohort_id = str(raw.get("cohort_person_id") or "").strip()[:32]
        masked = mask_person_number(raw.get("fodselsnummer"))
        checked = _validate_record(line, raw, synthetic_ok)
        if isinstance(checked, LineProblem):
            lines[line] = RosterLine(line, "refused", cohort_id, masked, checked.reasons)
            continue
        duplicate = []
        if checked.cohort_person_id in seen_ids:
            duplicate.append(f"cohort_person_id repeats line {seen_ids[checked.cohort_person_id]}")
        if checked.pid_hash in seen_hashes:
            duplicate.append(f"fodselsnummer repeats line {seen_hashes[checked.pid_hash]}")
        if duplicate:
            lines[line] = RosterLine(line, "refused", cohort_id, masked, duplicate)
            continue
        seen_ids[checked.cohort_person_id] = line
        seen_hashes[checked.pid_hash] = line
        rows.append(checked)
        lines[line] = RosterLine(line, "create", cohort_id, masked)
    return _plan(rows, lines)


def _plan(rows: list[RosterRow], lines: dict[int, RosterLine]) -> RosterPlan:
    """The checks against the roster in the database, for rows that passed the checks of their own."""
    existing = {p.cohort_person_id: p for p in _existing(rows)}
    owners = _hash_owners([r.pid_hash for r in rows])
    kept: list[RosterRow] = []
    for row in rows:
        planned = lines[row.line]
        participant = existing.get(row.cohort_person_id)
        reasons = []
        if participant is not None and participant.pid_hash != row.pid_hash:
            reasons.append(IDENTITY_CHANGE_REFUSED)  # moving a record to another person: correct_identity
        owner = owners.get(row.pid_hash)
        if owner is not None and owner != row.cohort_person_id:
            reasons.append(PID_OF_ANOTHER_RECORD)
        if reasons:
            planned.outcome, planned.reasons = "refused", reasons
            continue
        kept.append(row)
        if participant is not None:
            same = _roster_values(participant, row) == _values_now(participant)
            planned.outcome = "unchanged" if same else "update"
    file_problems = [] if lines else [LineProblem(0, ["the roster has no records"])]
    return RosterPlan(sorted(lines.values(), key=lambda x: x.line), kept, existing, file_problems)


def stage_roster(plan: RosterPlan, staff_id: uuid.UUID) -> RosterUpload:
    """Keep a dry run's rows (hashes, never numbers) until ``staff_id`` applies them."""
    upload = RosterUpload(
        staff_user_id=staff_id,
        rows=[
            [r.line, r.cohort_person_id, r.pid_hash, r.birth_date.isoformat(), r.language] for r in plan.rows
        ],
    )
    db.session.add(upload)
    db.session.flush()
    return upload


def apply_staged_roster(upload_id: uuid.UUID, staff_id: uuid.UUID) -> RosterResult:
    """Apply a roster that ``staff_id`` checked in a dry run (within :data:`STAGED_FOR`), checking the
    database again first: all or nothing, as :func:`import_roster`. The staged rows are removed."""
    upload = db.session.get(RosterUpload, upload_id)
    if upload is None or upload.staff_user_id != staff_id or upload.created_at + STAGED_FOR < clock.now():
        raise RosterUploadNotFound("This dry run is gone or not yours: upload the roster again.")
    rows = [
        RosterRow(int(str(line)), str(cohort_id), str(pid_hash), date.fromisoformat(str(born)), str(language))
        for line, cohort_id, pid_hash, born, language in upload.rows
    ]
    db.session.delete(upload)
    lines = {r.line: RosterLine(r.line, "create", r.cohort_person_id, "") for r in rows}
    return apply_roster(_plan(rows, lines), actor_id=staff_id)


def _values_now(participant: Participant) -> tuple[date, str]:
    return participant.birth_date, participant.language


def _roster_values(participant: Participant, row: RosterRow) -> tuple[date, str]:
    """What the participant's roster fields become (a language the participant chose is kept); whose
    record it is never changes here (a plan refuses another number for a known cohort_person_id)."""
    language = participant.language if participant.is_language_chosen else row.language
    return row.birth_date, language


def import_roster(
    records: Iterable[tuple[int, Mapping[str, Any]]], *, actor_id: uuid.UUID | None = None
) -> RosterResult:
    """Add or update every roster record, or change nothing and raise :class:`RosterRejected`
    listing every refused line (see :func:`plan_roster`). Re-importing updates birth date and
    language by ``cohort_person_id``; it never duplicates and never changes whose record it is."""
    return apply_roster(plan_roster(records), actor_id=actor_id)


def apply_roster(plan: RosterPlan, *, actor_id: uuid.UUID | None = None) -> RosterResult:
    """Carry out a plan with no refused line (else raise :class:`RosterRejected`, changing nothing)."""
    if plan.problems:
        raise _rejected(plan.problems)
    result = RosterResult()
    now = clock.now()
    for row in plan.rows:
        participant = plan.existing.get(row.cohort_person_id)
        if participant is None:
            db.session.add(
                Participant(
                    cohort_person_id=row.cohort_person_id,
                    pid_hash=row.pid_hash,
                    birth_date=row.birth_date,
                    language=row.language,
                )
            )
            result.created += 1
            continue
        values = _roster_values(participant, row)
        if values == _values_now(participant):
            result.unchanged += 1
        else:
            participant.birth_date, participant.language = values
            participant.updated_at = now
            result.updated += 1
    db.session.flush()
    audit.record(
        "roster.imported",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        details={"created": result.created, "updated": result.updated, "unchanged": result.unchanged},
    )
    return result


# --- identity correction ----------------------------------------------------------------------------

SessionEnder = Callable[[uuid.UUID, str], int]
REASON_LENGTH = (10, 500)


class ParticipantNotFound(NotFound):
    slug, title = "participant-not-found", "No participant with this cohort_person_id"


class IdentityUnchanged(Conflict):
    slug, title = "identity-unchanged", "The record already belongs to this fødselsnummer"


class PidOfAnotherRecord(Conflict):
    slug, title = "pid-of-another-record", "This fødselsnummer belongs to another record"


@dataclass(frozen=True)
class IdentityCorrection:
    participant: Participant
    sessions_ended: int
    corrected_at: datetime


def correct_identity(
    cohort_person_id: str,
    number: str,
    reason: str,
    *,
    birth_date: date | None = None,
    actor_id: uuid.UUID | None = None,
) -> IdentityCorrection:
    """Bind the record ``cohort_person_id`` to another fødselsnummer (and birth date), deliberately:
    a reason is required, every session of the record ends (the earlier person is logged out), and
    the audit names the record and the reason, never a number. A number bound to another record is
    refused (:class:`PidOfAnotherRecord`).

    Sessions are ended through ``app.extensions["engagement.end_participant_sessions"]``, which the
    login layer (above this one) installs; without it the correction refuses to run."""
    participant = db.session.scalar(
        sa.select(Participant).where(Participant.cohort_person_id == cohort_person_id).with_for_update()
    )
    if participant is None:
        raise ParticipantNotFound()
    end_sessions: SessionEnder = current_app.extensions["engagement.end_participant_sessions"]
    problems: dict[str, list[str]] = {}
    reason = reason.strip()
    low, high = REASON_LENGTH
    if not low <= len(reason) <= high:
        problems["reason"] = [f"{low} to {high} characters: why the record belongs to someone else"]
    elif redact(reason) != reason:
        problems["reason"] = ["must not hold a fødselsnummer, an eleven-digit number or a secret"]
    born = birth_date or participant.birth_date
    try:
        parsed = parse_person_number(number, allow_synthetic=allow_synthetic())
        if (parsed.day, parsed.month, parsed.year2) != (born.day, born.month, born.year % 100):
            problems["fodselsnummer"] = ["does not match the birth date"]
    except InvalidPersonNumber as exc:
        problems["fodselsnummer"] = [str(exc)]
    if problems:
        raise ValidationFailed({"json": problems})
    new_hash = hash_pid(number)
    if new_hash == participant.pid_hash:
        raise IdentityUnchanged()
    if db.session.scalar(sa.select(Participant.id).where(Participant.pid_hash == new_hash)) is not None:
        raise PidOfAnotherRecord("Correct or remove the other record first.")
    now = clock.now()
    birth_date_changed = born != participant.birth_date
    participant.pid_hash, participant.birth_date, participant.updated_at = new_hash, born, now
    db.session.flush()
    ended = end_sessions(participant.id, "identity_corrected")
    audit.record(
        "participant.identity_corrected",
        actor_kind="staff" if actor_id else "system",
        actor_id=actor_id,
        object_type="participant",
        object_id=participant.id,
        details={
            "cohort_person_id": cohort_person_id,
            "reason": reason,
            "birth_date_changed": birth_date_changed,
            "sessions_ended": ended,
        },
    )
    return IdentityCorrection(participant, ended, now)


def _existing(rows: list[RosterRow]) -> list[Participant]:
    ids = [r.cohort_person_id for r in rows]
    found: list[Participant] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.extend(
            db.session.scalars(sa.select(Participant).where(Participant.cohort_person_id.in_(chunk)))
        )
    return found


def _hash_owners(hashes: list[str]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        query = sa.select(Participant.pid_hash, Participant.cohort_person_id).where(
            Participant.pid_hash.in_(chunk)
        )
        owners.update({h: c for h, c in db.session.execute(query)})  # noqa: C416
    return owners
