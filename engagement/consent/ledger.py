"""The consent ledger: decisions and withdrawals appended, never changed, and a participant's
:class:`Standing` read back from it at any time (their latest decision and the strongest withdrawal
made since), one by one or for the whole roster in two queries.

Each append also rewrites the participant's :class:`ConsentLatest` row (their latest submission), in
the same transaction. Nothing here decides what a standing allows; that is
:mod:`engagement.consent.rules`; counting the roster by standing is :mod:`engagement.consent.counts`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engagement import audit
from engagement.consent import documents
from engagement.consent.documents import ConsentDocumentNotFound, Published, Terms
from engagement.consent.models import (
    DELETE_DATA,
    NO_NEW_DATA,
    WITHDRAWAL_SCOPES,
    ConsentDecision,
    ConsentDocument,
    ConsentLatest,
    ConsentWithdrawal,
)
from engagement.db import bulk_objects
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import is_adult
from engagement.problems import Conflict, Forbidden, ValidationFailed
from engagement.security import Principal


class ConsentUnderAge(Forbidden):
    slug, title = "consent-under-18", "Only a participant aged 18 or older can decide"


class ConsentVersionOutdated(Conflict):
    slug, title = "consent-version-outdated", "A newer version of the consent document exists"


@dataclass(frozen=True)
class Evidence:
    """How the participant was logged in when they decided (ID-porten assurance level and login time)."""

    acr: str | None = None
    auth_time: datetime | None = None
    session_id: uuid.UUID | None = None

    @classmethod
    def of_login(cls, principal: Principal) -> Evidence:
        """The login behind a request, as recorded with a decision or withdrawal."""
        return cls(principal.acr, principal.auth_time, principal.session_id)


# --- a standing ------------------------------------------------------------------------------------


@dataclass
class Standing:
    """What the ledger says about one participant at one time: their latest decision, and the
    strongest withdrawal made since it (inclusive: when in doubt, do not use the data)."""

    document: Terms | None = None
    decided_at: datetime | None = None
    by_purpose: dict[str, str] = field(default_factory=dict)  # may be shared: read it, never change it
    scope: str | None = None  # the strongest withdrawal in force
    withdrawn_at: datetime | None = None  # ... and when it was made

    @property
    def takes_part(self) -> bool:
        """Has decided, said yes to every required purpose, and has not withdrawn new data or data."""
        document = self.document
        if document is None or self.scope in (NO_NEW_DATA, DELETE_DATA):
            return False
        return all(self.by_purpose.get(code) == "yes" for code in document.required_codes)

    def withdrew(self, scope: str, withdrawn_at: datetime) -> None:
        if self.decided_at is not None and withdrawn_at < self.decided_at:
            return
        if self.scope is None or WITHDRAWAL_SCOPES.index(scope) > WITHDRAWAL_SCOPES.index(self.scope):
            self.scope, self.withdrawn_at = scope, withdrawn_at


def latest_decisions(
    at: datetime | sa.BindParameter[datetime] | None, *aggregates: sa.ColumnElement[Any]
) -> sa.Select[Any]:
    """One row per participant and submission made by ``at`` (``None``: ever): ``participant_id``,
    ``document_id``, ``decided_at``, the given aggregates over its decision rows, and ``latest`` (1 on
    the participant's latest submission). Callers restrict it with ``where`` and keep ``latest == 1``
    outside it.

    Aggregating first and ranking the submissions after reads the ledger once, in the order of its
    (participant, time, document) index."""
    query = sa.select(
        ConsentDecision.participant_id,
        ConsentDecision.document_id,
        ConsentDecision.decided_at,
        *aggregates,
        sa.func.rank()
        .over(partition_by=ConsentDecision.participant_id, order_by=ConsentDecision.decided_at.desc())
        .label("latest"),
    ).group_by(ConsentDecision.participant_id, ConsentDecision.decided_at, ConsentDecision.document_id)
    return query if at is None else query.where(ConsentDecision.decided_at <= at)


def standings(
    at: datetime, participant_ids: Collection[uuid.UUID] | sa.Select[uuid.UUID] | None = None
) -> dict[uuid.UUID, Standing]:
    """:class:`Standing` at ``at`` of the given participants (a list, or those a query selects;
    everyone with a ledger entry when ``None``), read in two queries whatever their number. Those with
    no entry are absent.

    A wave launch or an extract reads the whole roster: one row per participant (their latest
    decisions aggregated on the server), plain rows at Core level, no ORM loading."""
    return _standings(at, None if participant_ids is None else _ids_or_query(participant_ids))


def _ids_or_query(
    participant_ids: Collection[uuid.UUID] | sa.Select[uuid.UUID],
) -> Collection[uuid.UUID] | sa.Select[uuid.UUID]:
    return participant_ids if isinstance(participant_ids, sa.Select) else list(participant_ids)


# One submission's decisions as "purpose=decision,...": the string is the key under which equal
# answers are parsed once (:func:`_decisions`).
_PACKED = sa.func.aggregate_strings(ConsentDecision.purpose + "=" + ConsentDecision.decision, ",").label(
    "packed"
)


def unpack_decisions(packed: str) -> dict[str, str]:
    """The decision per purpose of :data:`_PACKED` (or of :attr:`ConsentLatest.decisions`). Two
    submissions made at the same instant arrive together: a "no" in either holds (as in
    :func:`engagement.consent.rules.reachable_query`)."""
    by_purpose: dict[str, str] = {}
    for pair in packed.split(","):
        code, decision = pair.split("=", 1)
        by_purpose[code] = min(decision, by_purpose.get(code, decision))
    return by_purpose


def _packed(by_purpose: dict[str, str]) -> str:
    """:attr:`ConsentLatest.decisions` of these decisions: in the order of the purpose codes, so that
    equal decisions are equal strings."""
    return ",".join(f"{code}={by_purpose[code]}" for code in sorted(by_purpose))


@bulk_objects()
def _standings(
    at: datetime, participant_ids: Collection[uuid.UUID] | sa.Select[uuid.UUID] | None
) -> dict[uuid.UUID, Standing]:
    per_submission = latest_decisions(at, _PACKED)
    withdrawn = sa.select(
        ConsentWithdrawal.participant_id, ConsentWithdrawal.scope, ConsentWithdrawal.withdrawn_at
    ).where(ConsentWithdrawal.withdrawn_at <= at)
    if participant_ids is not None:
        if isinstance(participant_ids, sa.Select):
            per_submission = per_submission.where(ConsentDecision.participant_id.in_(participant_ids))
            withdrawn = withdrawn.where(ConsentWithdrawal.participant_id.in_(participant_ids))
        else:
            per_submission = per_submission.where(db.among(ConsentDecision.participant_id, participant_ids))
            withdrawn = withdrawn.where(db.among(ConsentWithdrawal.participant_id, participant_ids))
    ranked = per_submission.subquery()
    decided_at: Any = ranked.c.decided_at
    if db.is_postgres:  # already aware: skip converting each time to UTC in Python (compared, not shown)
        decided_at = sa.type_coerce(decided_at, sa.DateTime(timezone=True))
    latest = sa.select(ranked.c.participant_id, ranked.c.document_id, decided_at, ranked.c.packed).where(
        ranked.c.latest == 1
    )
    connection = db.session.connection()
    rows = connection.execute(latest).all()
    terms = documents.terms({document_id for _, document_id, _, _ in rows})
    # The same answers parsed once and shared (most people answer alike; a standing is only read).
    parsed: dict[str, dict[str, str]] = {}
    result: dict[uuid.UUID, Standing] = {}
    for participant_id, document_id, decided_at, packed in rows:
        by_purpose = parsed.get(packed)
        if by_purpose is None:
            by_purpose = parsed[packed] = unpack_decisions(packed)
        result[participant_id] = Standing(terms[document_id], decided_at, by_purpose)
    for participant_id, scope, withdrawn_at in connection.execute(withdrawn).all():
        result.setdefault(participant_id, Standing()).withdrew(scope, withdrawn_at)
    return result


def standing(participant_id: uuid.UUID, at: datetime) -> Standing:
    """The participant's :class:`Standing` at ``at``."""
    return standing_and_published(participant_id, at)[0]


_P: sa.BindParameter[uuid.UUID] = sa.bindparam("participant_id")
_AT: sa.BindParameter[datetime] = sa.bindparam("at")
_KEY: sa.BindParameter[str] = sa.bindparam("key")


def _one_standing() -> sa.CompoundSelect[Any]:
    """One participant's ledger and the newest major version, in one round trip (a submission asks
    this on every request), as (kind, document, time, packed decisions or withdrawal scope) rows: the
    latest submission as :func:`standings` reads it, the withdrawals made by ``at``, and the id of the
    newest major version of the current document published by ``at``."""
    ranked = latest_decisions(_AT, _PACKED).where(ConsentDecision.participant_id == _P).subquery()
    return sa.union_all(
        sa.select(
            sa.literal_column("'decision'").label("kind"),
            ranked.c.document_id,
            ranked.c.decided_at,
            ranked.c.packed,
        ).where(ranked.c.latest == 1),
        sa.select(
            sa.literal_column("'withdrawal'"),
            sa.null(),
            ConsentWithdrawal.withdrawn_at,
            ConsentWithdrawal.scope,
        ).where(ConsentWithdrawal.participant_id == _P, ConsentWithdrawal.withdrawn_at <= _AT),
        sa.select(
            sa.literal_column("'major'"),
            documents.newest(_KEY, _AT, ConsentDocument.id, major_only=True).scalar_subquery(),
            sa.null(),
            sa.null(),
        ),
    )


_ONE_STANDING = _one_standing()


def standing_and_published(participant_id: uuid.UUID, at: datetime) -> tuple[Standing, Published]:
    """One participant's :class:`Standing` and the :class:`Published` documents at ``at``, in one
    round trip."""
    key = documents.document_key()
    rows = db.session.execute(_ONE_STANDING, {"participant_id": participant_id, "at": at, "key": key}).all()
    terms = documents.terms({document_id for _, document_id, _, _ in rows if document_id is not None})
    found, major = Standing(), None
    withdrawals = []
    for kind, document_id, when, text in rows:
        if kind == "decision":
            found = Standing(terms[document_id], when, unpack_decisions(text))
        elif kind == "withdrawal":
            withdrawals.append((text, when))
        elif document_id is not None:
            major = terms[document_id].version
    for scope, withdrawn_at in withdrawals:  # after the decision: only those made since it count
        found.withdrew(scope, withdrawn_at)
    return found, Published(key, major)


# --- appending -------------------------------------------------------------------------------------


def record_decisions(
    participant_id: uuid.UUID,
    document: ConsentDocument,
    decisions: dict[str, str],
    at: datetime,
    evidence: Evidence,
) -> uuid.UUID:
    """Append one submission (a decision per purpose) to the ledger and audit it; returns its batch id.

    No checks: :func:`decide` is the way in for participants. The participant's row of
    :class:`ConsentLatest` is written again from the ledger in the same transaction.
    """
    _lock_participant(participant_id)
    batch_id = uuid.uuid4()
    for code in document.purpose_codes:
        db.session.add(
            ConsentDecision(
                participant_id=participant_id,
                document_id=document.id,
                batch_id=batch_id,
                purpose=code,
                decision=decisions[code],
                decided_at=at,
                acr=evidence.acr,
                auth_time=evidence.auth_time,
                session_id=evidence.session_id,
            )
        )
    db.session.flush()
    _write_latest(participant_id)
    audit.record(
        "consent.decided",
        actor_kind="participant",
        actor_id=participant_id,
        object_type="consent_document",
        object_id=document.id,
        details={
            "key": document.key,
            "version": document.version,
            "decisions": {code: decisions[code] for code in document.purpose_codes},
            "acr": evidence.acr,
        },
    )
    return batch_id


def _lock_participant(participant_id: uuid.UUID) -> None:
    """Take the participant's row lock before appending: two submissions of one participant then
    write :class:`ConsentLatest` one after the other, the later one reading the earlier one's rows.
    ``FOR NO KEY UPDATE`` (PostgreSQL; SQLite has one writer at a time) leaves the key-share locks that
    the ledger's foreign key takes free, so that it cannot deadlock with a concurrent append."""
    db.session.execute(
        sa.select(Participant.id).where(Participant.id == participant_id).with_for_update(key_share=True)
    )


def _latest_rows(*where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    """:class:`ConsentLatest` rows as the ledger gives them (of the participants ``where`` selects):
    each participant's latest submission, as :func:`standings` reads it. Two submissions of one
    instant are one row: a "no" in either holds, and of two documents the greater id is kept."""
    ranked = latest_decisions(None, _PACKED).where(*where).subquery()
    found = db.session.execute(
        sa.select(ranked.c.participant_id, ranked.c.document_id, ranked.c.decided_at, ranked.c.packed)
        .where(ranked.c.latest == 1)
        .order_by(ranked.c.participant_id, ranked.c.document_id)
    )
    latest: dict[uuid.UUID, tuple[uuid.UUID, datetime, dict[str, str]]] = {}
    for participant_id, document_id, decided_at, packed in found:
        by_purpose = latest[participant_id][2] if participant_id in latest else {}
        for code, decision in unpack_decisions(packed).items():
            by_purpose[code] = min(decision, by_purpose.get(code, decision))
        latest[participant_id] = (document_id, decided_at, by_purpose)  # the last document in id order
    return [
        {"participant_id": pid, "document_id": doc, "decided_at": at, "decisions": _packed(by_purpose)}
        for pid, (doc, at, by_purpose) in latest.items()
    ]


def _write_latest(participant_id: uuid.UUID) -> None:
    """Write the participant's :class:`ConsentLatest` row again from their ledger."""
    for values in _latest_rows(ConsentDecision.participant_id == participant_id):
        row = db.session.get(ConsentLatest, participant_id) or ConsentLatest(participant_id=participant_id)
        row.document_id, row.decided_at, row.decisions = (
            values["document_id"],
            values["decided_at"],
            values["decisions"],
        )
        db.session.add(row)
    db.session.flush()


def rebuild_latest() -> int:
    """Write every participant's :class:`ConsentLatest` row again from the ledger (for data that came
    into the ledger another way than :func:`record_decisions`, as the benchmarks seed it); returns the
    number of rows."""
    values = _latest_rows()
    db.session.execute(sa.delete(ConsentLatest))
    if values:
        db.session.execute(sa.insert(ConsentLatest), values)
    return len(values)


def decide(
    participant: Participant,
    key: str,
    version: int,
    decisions: dict[str, str],
    evidence: Evidence,
    at: datetime,
) -> Standing:
    """The participant decides on ``key`` v``version``, one ``yes``/``no`` per purpose it asks about.

    Refused under 18 (Oslo calendar day), for a version that is not the current one, and unless
    every purpose of that version, and nothing else, is decided. Deciding again after a withdrawal
    is how a participant re-joins.
    """
    if not is_adult(participant.birth_date, at):
        raise ConsentUnderAge("You can decide on consent from the day you turn 18.")
    document = documents.find_document(key, version)
    if document is None or document.published_at > at:
        raise ConsentDocumentNotFound(f"There is no consent document {key} v{version}.")
    current = documents.current_document(at, key)
    if key != documents.document_key() or current.version != version:
        raise ConsentVersionOutdated(
            f"{key} v{version} is not the current consent document; decide on {current.key} v{current.version}.",
            current={"key": current.key, "version": current.version},
        )
    errors: dict[str, list[str]] = {}
    for code in document.purpose_codes:
        if code not in decisions:
            errors[code] = ["A decision (yes or no) is needed for this purpose."]
    for code in decisions:
        if code not in document.purpose_codes:
            errors[code] = ["This consent document does not ask about this purpose."]
    if errors:
        raise ValidationFailed({"decisions": errors})
    record_decisions(participant.id, document, decisions, at, evidence)
    return standing(participant.id, at)


def record_withdrawal(
    participant_id: uuid.UUID, scope: str, at: datetime, evidence: Evidence
) -> ConsentWithdrawal:
    """Append a withdrawal to the ledger and audit it. Its effects are applied by the withdrawal domain."""
    if scope not in WITHDRAWAL_SCOPES:
        raise ValidationFailed({"scope": [f"One of {', '.join(WITHDRAWAL_SCOPES)}."]})
    withdrawal = ConsentWithdrawal(
        participant_id=participant_id,
        scope=scope,
        withdrawn_at=at,
        acr=evidence.acr,
        auth_time=evidence.auth_time,
        session_id=evidence.session_id,
    )
    db.session.add(withdrawal)
    db.session.flush()
    audit.record(
        "consent.withdrawn",
        actor_kind="participant",
        actor_id=participant_id,
        object_type="consent_withdrawal",
        object_id=withdrawal.id,
        details={"scope": scope, "acr": evidence.acr},
    )
    return withdrawal


# --- reading it back -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One submission: a decision per purpose, made together on one document version."""

    batch_id: uuid.UUID
    decided_at: datetime
    acr: str | None
    auth_time: datetime | None
    document: ConsentDocument
    decisions: list[ConsentDecision]


def history(participant_id: uuid.UUID) -> list[Submission]:
    """Every submission, newest first, its decisions in the order of the document's purposes."""
    rows = db.session.scalars(
        sa.select(ConsentDecision)
        .where(ConsentDecision.participant_id == participant_id)
        .order_by(ConsentDecision.decided_at.desc(), ConsentDecision.batch_id)
    )
    batches: dict[uuid.UUID, list[ConsentDecision]] = {}
    for row in rows:
        batches.setdefault(row.batch_id, []).append(row)
    out = []
    for decisions in batches.values():
        first = decisions[0]
        order = first.document.purpose_codes
        decisions.sort(key=lambda d: order.index(d.purpose))
        out.append(
            Submission(
                first.batch_id, first.decided_at, first.acr, first.auth_time, first.document, decisions
            )
        )
    return out


def withdrawals(participant_id: uuid.UUID) -> list[ConsentWithdrawal]:
    """Every withdrawal, newest first."""
    return list(
        db.session.scalars(
            sa.select(ConsentWithdrawal)
            .where(ConsentWithdrawal.participant_id == participant_id)
            .order_by(ConsentWithdrawal.withdrawn_at.desc())
        )
    )
