"""The one question every use asks: may this participant's data be used for this purpose, and may they
be contacted, at this time? Asked of one participant (:func:`may_use_data`, :func:`may_contact`,
:func:`require_data_use`), in bulk (:func:`participants_allowed`, :func:`participants_contactable`,
:func:`participants_reachable`), as a query (:func:`reachable_query`) and for an extract
(:func:`export_filter`); each applies the same two rules on a :class:`~engagement.consent.ledger.Standing`
(:func:`allows_use`, :func:`allows_contact`), and there is no second copy. Also here: whether the
participant must decide now, where they stand for the app, and the coordinators' counts.

Fast path: :func:`reachable_query` is :func:`participants_reachable` of everyone, grouped by equal
standings on the server; it promises the same set, and tests/consent/test_one_question.py compares the
two, and both with the one-by-one answer, on a cohort with every kind of history.
"""

from __future__ import annotations

import bisect
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engagement.consent import counts, documents, ledger
from engagement.consent.documents import QUESTIONNAIRES, Published
from engagement.consent.ledger import Standing
from engagement.consent.models import (
    DELETE_DATA,
    NO_NEW_DATA,
    WITHDRAWAL_SCOPES,
    ConsentDecision,
    ConsentDocument,
    ConsentWithdrawal,
)
from engagement.db import bulk_objects
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import is_adult, today_in_oslo
from engagement.problems import Forbidden

# Purposes that collect new data: blocked by a pending major version and by no_new_data.
COLLECTING_PURPOSES = frozenset({QUESTIONNAIRES})


class ConsentRequired(Forbidden):
    slug, title = "consent-required", "A consent decision is needed first"


# --- the two rules, on a standing ------------------------------------------------------------------


def allows_use(standing: Standing, purpose: str, published: Published) -> bool:
    """The rule behind :func:`may_use_data`, on a standing: one rule, asked one by one or in bulk."""
    document = standing.document
    if document is None or standing.scope == DELETE_DATA:
        return False
    if not all(standing.by_purpose.get(code) == "yes" for code in document.required_codes):
        return False
    if standing.by_purpose.get(purpose) != "yes":
        return False
    if purpose in COLLECTING_PURPOSES:
        if standing.scope == NO_NEW_DATA or document.key != published.key:
            return False
        if published.major_version is not None and published.major_version > document.version:
            return False
    return True


def allows_contact(standing: Standing) -> bool:
    """The rule behind :func:`may_contact`, on a standing."""
    if standing.scope is not None:
        return False
    document = standing.document
    if document is None:
        return True
    return all(standing.by_purpose.get(code) == "yes" for code in document.required_codes)


def _reaches(standing: Standing, purposes: Collection[str], published: Published) -> bool:
    return allows_contact(standing) and all(allows_use(standing, purpose, published) for purpose in purposes)


def _verdicts(known: dict[uuid.UUID, Standing], rule: Callable[[Standing], bool]) -> set[uuid.UUID]:
    """Those of ``known`` whose standing passes ``rule``, asked once per distinct standing: the rules
    read only the document, the answers (shared between those who answered alike) and the withdrawal."""
    asked: dict[tuple[int, int, str | None], bool] = {}
    passed = set()
    for pid, found in known.items():
        key = (id(found.document), id(found.by_purpose), found.scope)
        verdict = asked.get(key)
        if verdict is None:
            verdict = asked[key] = rule(found)
        if verdict:
            passed.add(pid)
    return passed


# --- one participant -------------------------------------------------------------------------------


def may_use_data(participant_id: uuid.UUID, purpose: str, at: datetime) -> bool:
    """Whether the participant's data may be used for ``purpose`` at ``at``.

    Yes only if their latest decision at ``at`` says yes to ``purpose`` and to every required
    purpose, and no withdrawal since then rules it out: ``delete_data`` rules out every use,
    ``no_new_data`` rules out collecting (new tasks, submissions), ``no_contact`` no data use.
    Collecting also needs a decision on the newest major version published by ``at``.
    """
    standing, published = ledger.standing_and_published(participant_id, at)
    return allows_use(standing, purpose, published)


def require_data_use(participant_id: uuid.UUID, purpose: str, at: datetime) -> None:
    """Raise :class:`ConsentRequired` unless :func:`may_use_data`."""
    if not may_use_data(participant_id, purpose, at):
        raise ConsentRequired(
            f"Your consent does not cover '{purpose}'. Decide on the current consent first."
        )


def may_contact(participant_id: uuid.UUID, at: datetime) -> bool:
    """Whether the participant may be contacted (reminders, messages) at ``at``.

    No after any withdrawal (until they consent again) and after declining to take part; yes
    before a first decision, so that they can be asked to decide.
    """
    return allows_contact(ledger.standing(participant_id, at))


# --- in bulk ---------------------------------------------------------------------------------------


def participants_allowed(
    purpose: str, at: datetime, participant_ids: Collection[uuid.UUID] | None = None
) -> set[uuid.UUID]:
    """Bulk :func:`may_use_data`: of ``participant_ids`` (everyone when ``None``), those whose data may
    be used for ``purpose`` at ``at``. For large sets pass ``None`` and intersect."""
    published = documents.published(at)
    return _verdicts(
        ledger.standings(at, participant_ids), lambda found: allows_use(found, purpose, published)
    )


def participants_contactable(at: datetime, participant_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Bulk :func:`may_contact` over ``participant_ids`` (those with no ledger entry may be contacted)."""
    known = ledger.standings(at, participant_ids)
    return {pid for pid in participant_ids if allows_contact(known.get(pid, Standing()))}


def participants_reachable(
    purposes: Collection[str], at: datetime, participant_ids: Collection[uuid.UUID] | None = None
) -> set[uuid.UUID]:
    """Bulk, for a wave: those whose data may be used for every one of ``purposes`` at ``at`` and who may be
    contacted (:func:`may_use_data` and :func:`may_contact` together), from one read of the ledger.
    The plain path beside :func:`reachable_query`."""
    published = documents.published(at)
    return _verdicts(
        ledger.standings(at, participant_ids), lambda found: _reaches(found, purposes, published)
    )


def reachable_query(purposes: Collection[str], at: datetime) -> sa.Select[uuid.UUID]:
    """:func:`participants_reachable` of everyone, as a query of participant ids to use inside a statement
    (``IN``, ``INSERT ... SELECT``), so that a wave of any size never carries its ids through Python.

    The rule still runs here, in Python, once per distinct standing rather than once per participant:
    most people share the same latest decision (document and answer per purpose) and have never
    withdrawn. Those are grouped on the server by (document, decision per purpose) and the rule is asked
    once per group; the query then selects the members of the groups it allows. A standing's decision
    time only weighs withdrawals, so everyone with a withdrawal by ``at`` is asked one by one instead."""
    published = documents.published(at)
    codes = sorted(
        {*purposes, *(c for doc in db.session.scalars(sa.select(ConsentDocument)) for c in doc.purpose_codes)}
    )
    withdrew = sa.select(ConsentWithdrawal.participant_id).where(ConsentWithdrawal.withdrawn_at <= at)
    never_withdrew = ConsentDecision.participant_id.not_in(withdrew.scalar_subquery())
    answers = [
        sa.func.min(sa.case((ConsentDecision.purpose == code, ConsentDecision.decision))) for code in codes
    ]
    ranked = ledger.latest_decisions(at, *(a.label(f"d{i}") for i, a in enumerate(answers)))
    groups = ranked.where(never_withdrew).subquery()
    allowed: list[sa.ColumnElement[bool]] = []
    for document_id, *decisions in db.session.connection().execute(
        sa.select(groups.c.document_id, *(groups.c[f"d{i}"] for i in range(len(codes))))
        .where(groups.c.latest <= 1)
        .distinct()
    ):
        by_purpose = {code: d for code, d in zip(codes, decisions, strict=True) if d is not None}
        document = documents.terms({document_id})[document_id]
        if _reaches(Standing(document, None, by_purpose), purposes, published):
            allowed.append(
                sa.and_(
                    ConsentDecision.document_id == document_id,
                    *(a.is_(None) if d is None else a == d for a, d in zip(answers, decisions, strict=True)),
                )
            )
    # The group test is a column, and "latest <= 1" an inequality, so that the planner does not multiply
    # the selectivities of every answer into an estimate of one row (and a nested loop over the roster).
    in_allowed_group = sa.case((sa.or_(sa.false(), *allowed), sa.true()), else_=sa.false()).label("allowed")
    members = ledger.latest_decisions(at, in_allowed_group).where(never_withdrew).subquery()
    query = sa.select(members.c.participant_id).where(members.c.latest <= 1, members.c.allowed)
    rejoined = sorted(
        pid for pid, found in ledger.standings(at, withdrew).items() if _reaches(found, purposes, published)
    )
    if rejoined:
        ids: sa.BindParameter[list[uuid.UUID]] = sa.bindparam(
            "rejoined", rejoined, expanding=True, literal_execute=True, unique=True
        )
        return (
            sa.union_all(query, sa.select(Participant.id).where(Participant.id.in_(ids))).subquery().select()
        )
    return query


# --- extracts --------------------------------------------------------------------------------------


@dataclass
class ExportFilter:
    """Which data may go into an extract made at ``at`` for a set of purposes (see :func:`may_export`).

    Built once per extract from the whole ledger, then asked per answer without further queries."""

    at: datetime
    allowed: set[uuid.UUID]
    decision_times: dict[uuid.UUID, list[datetime]]
    withdrawals: dict[uuid.UUID, list[tuple[datetime, str]]]

    def allows(self, participant_id: uuid.UUID, given_at: datetime) -> bool:
        """Data the participant gave at ``given_at``: allowed now, not given while new data was
        withdrawn, and no ``delete_data`` withdrawal since (re-joining never brings it back)."""
        if participant_id not in self.allowed:
            return False
        if participant_id not in self.withdrawals:  # nothing withdrawn, ever: allowed now is the answer
            return True
        times = self.decision_times.get(participant_id, [])
        position = bisect.bisect_right(times, given_at)
        then = Standing(decided_at=times[position - 1] if position else None)
        for withdrawn_at, scope in self.withdrawals.get(participant_id, []):
            if withdrawn_at <= given_at:
                then.withdrew(scope, withdrawn_at)
            elif scope == DELETE_DATA and withdrawn_at <= self.at:
                return False
        return then.scope not in (NO_NEW_DATA, DELETE_DATA)


@bulk_objects()
def export_filter(
    purposes: Collection[str], at: datetime, participant_ids: Collection[uuid.UUID] | None = None
) -> ExportFilter:
    """The :class:`ExportFilter` for an extract at ``at`` needing every one of ``purposes``."""
    published = documents.published(at)
    allowed = _verdicts(
        ledger.standings(at, participant_ids),
        lambda found: all(allows_use(found, purpose, published) for purpose in purposes),
    )
    withdrawn = sa.select(
        ConsentWithdrawal.participant_id, ConsentWithdrawal.withdrawn_at, ConsentWithdrawal.scope
    ).where(ConsentWithdrawal.withdrawn_at <= at)
    if participant_ids is not None:
        withdrawn = withdrawn.where(ConsentWithdrawal.participant_id.in_(participant_ids))
    connection = db.session.connection()
    withdrawals: dict[uuid.UUID, list[tuple[datetime, str]]] = {}
    for participant_id, withdrawn_at, scope in connection.execute(withdrawn).all():
        withdrawals.setdefault(participant_id, []).append((withdrawn_at, scope))
    # Decision times only matter to weigh a withdrawal against them: read them for those who withdrew.
    times: dict[uuid.UUID, list[datetime]] = {}
    if withdrawals:
        decided = (
            sa.select(ConsentDecision.participant_id, ConsentDecision.decided_at)
            .where(
                ConsentDecision.decided_at <= at,
                ConsentDecision.participant_id.in_(
                    sa.select(ConsentWithdrawal.participant_id).where(ConsentWithdrawal.withdrawn_at <= at)
                ),
            )
            .distinct()
            .order_by(ConsentDecision.participant_id, ConsentDecision.decided_at)
        )
        if participant_ids is not None:
            decided = decided.where(ConsentDecision.participant_id.in_(participant_ids))
        for participant_id, decided_at in connection.execute(decided).all():
            times.setdefault(participant_id, []).append(decided_at)
    return ExportFilter(at, allowed, times, withdrawals)


def may_export(participant_id: uuid.UUID, purpose: str, given_at: datetime, at: datetime) -> bool:
    """Whether data the participant gave at ``given_at`` may go into an extract for ``purpose`` at ``at``.

    :func:`may_use_data` at ``at``, and the data was not given while new data was withdrawn, and
    no ``delete_data`` withdrawal came after it: re-joining never brings earlier data back.
    """
    return export_filter([purpose], at, [participant_id]).allows(participant_id, given_at)


# --- deciding --------------------------------------------------------------------------------------


def decision_required(participant: Participant, at: datetime) -> bool:
    """Whether the participant must decide now: of age, not withdrawn from new data, and either
    never decided or last decided before the newest major version (those who declined are not asked)."""
    if not is_adult(participant.birth_date, at):
        return False
    key = documents.document_key()
    return _must_decide(
        ledger.standing(participant.id, at),
        key,
        documents.latest_version(key, at),
        documents.major_version(key, at),
    )


def _must_decide(
    standing: Standing, key: str, current: ConsentDocument | None, major_version: int | None
) -> bool:
    if current is None or standing.scope in (NO_NEW_DATA, DELETE_DATA):
        return False
    document = standing.document
    if document is None:
        return True
    if not standing.takes_part:
        return False
    return document.key != key or (major_version is not None and major_version > document.version)


@dataclass(frozen=True)
class ConsentState:
    """Where a participant stands on the current document (``GET /v1/me/consents``)."""

    document: ConsentDocument
    purposes: list[dict[str, Any]]
    decided_version: int | None
    decided_at: datetime | None
    change_since_decision: str | None
    decision_required: bool
    can_decide: bool
    withdrawal: dict[str, Any] | None


def state(participant: Participant, at: datetime) -> ConsentState:
    """The current document, the participant's decision per purpose on it, the largest change published
    since they decided (a decision on another document counts as a major change), the withdrawal in
    force, and whether they must and may decide now."""
    current = documents.current_document(at)
    standing = ledger.standing(participant.id, at)
    decided = standing.document
    same_key = decided is not None and decided.key == current.key
    by_purpose = standing.by_purpose if same_key else {}
    change: str | None = None
    if decided is not None:
        change = documents.change_since(current.key, decided.version, at) if same_key else "major"
    return ConsentState(
        document=current,
        purposes=[
            {"code": p["code"], "required": p["required"], "decision": by_purpose.get(p["code"])}
            for p in current.purposes
        ],
        decided_version=decided.version if same_key and decided else None,
        decided_at=standing.decided_at,
        change_since_decision=change,
        decision_required=decision_required(participant, at),
        can_decide=is_adult(participant.birth_date, at),
        withdrawal={"scope": standing.scope, "withdrawn_at": standing.withdrawn_at}
        if standing.scope
        else None,
    )


def summary(at: datetime) -> dict[str, Any]:
    """Counts per document version, purpose and decision (each participant's latest decision), how
    many have a withdrawal in force per scope, and how many must still decide on the current version;
    the rules asked once per group of equal standings (:func:`engagement.consent.counts.standing_groups`)."""
    key = documents.document_key()
    current = documents.latest_version(key, at)
    major_version = documents.major_version(key, at)
    today = today_in_oslo(at)
    tally: Counter[tuple[str, int, str, str]] = Counter()
    withdrawn: dict[str, int] = dict.fromkeys(WITHDRAWAL_SCOPES, 0)
    must_decide = participants = 0
    for standing, birth_date, n in counts.standing_groups(at):
        participants += n
        if standing.document is not None:
            for purpose, decision in standing.by_purpose.items():
                tally[(standing.document.key, standing.document.version, purpose, decision)] += n
        if standing.scope:
            withdrawn[standing.scope] += n
        if is_adult(birth_date, today) and _must_decide(standing, key, current, major_version):
            must_decide += n
    counted = sorted(tally.items())
    return {
        "document_key": key,
        "current_version": current.version if current else None,
        "counts": [
            {"key": k, "version": v, "purpose": p, "decision": d, "participants": n}
            for (k, v, p, d), n in counted
        ],
        "withdrawn": withdrawn,
        "must_decide": must_decide,
        "participants": participants,
    }
