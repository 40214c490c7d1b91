"""The roster counted by consent: everyone's standing in groups (the coordinators' summary, the
console), the decisions per purpose, the withdrawals per scope; each an aggregate in SQL over the ledger
(:mod:`engagement.consent.ledger`) or, for a count as of now, over :class:`ConsentLatest`, the latest
submission that every append keeps beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from engagement.consent import documents, ledger
from engagement.consent.ledger import Standing
from engagement.consent.models import (
    WITHDRAWAL_SCOPES,
    ConsentDecision,
    ConsentDocument,
    ConsentLatest,
    ConsentWithdrawal,
)
from engagement.extensions import db
from engagement.participants.models import Participant

_CODED = {1: "no", 2: "yes"}


def standing_groups(at: datetime, among: sa.Select[Any] | None = None) -> list[tuple[Standing, date, int]]:
    """Everyone on the roster (``among``: only the participants this query of ids selects) at ``at``,
    in groups of equal :class:`Standing` and birth date, with each group's size; those with no ledger
    entry have an empty standing. Whoever counts the roster by standing (the coordinators' summary, the
    console) counts these groups, so that every count is the same rule as :func:`engagement.consent.ledger.standings`.

    Grouped on the server: each participant's latest submission as one row (a "no" in two submissions
    of the same instant holds), then counted per (document, decisions, birth date), a few thousand
    groups for any roster. The latest submission is :class:`ConsentLatest`'s row when no submission in
    the ledger is newer than ``at`` (the count of now), else it is ranked from the ledger. A withdrawal
    weighs against the decision's time, so everyone with one by ``at`` comes one by one
    (:func:`engagement.consent.ledger.standings`), as a group of one."""
    latest, answers, parse = _latest(at)
    withdrew = sa.select(ConsentWithdrawal.participant_id).where(ConsentWithdrawal.withdrawn_at <= at)
    on_roster = [] if among is None else [Participant.id.in_(among)]
    group_key = [latest.c.document_id, *answers, Participant.birth_date]
    connection = db.session.connection()
    rows = connection.execute(
        sa.select(*group_key, sa.func.count())
        .select_from(Participant)
        .outerjoin(latest, latest.c.participant_id == Participant.id)
        .where(*on_roster, Participant.id.not_in(withdrew))
        .group_by(*group_key)
    ).all()
    terms = documents.terms({row[0] for row in rows if row[0] is not None})
    groups: list[tuple[Standing, date, int]] = []
    for document_id, *decisions, birth_date, n in rows:
        if document_id is None:
            groups.append((Standing(), birth_date, int(n)))
        else:
            groups.append((Standing(terms[document_id], None, parse(decisions)), birth_date, int(n)))
    withdrawn = sa.select(Participant.id, Participant.birth_date).where(
        *on_roster, Participant.id.in_(withdrew)
    )
    found = ledger.standings(at, withdrew)
    for participant_id, birth_date in connection.execute(withdrawn).all():
        groups.append((found.get(participant_id, Standing()), birth_date, 1))
    return groups


_Parse = Callable[[list[Any]], dict[str, str]]


def _latest(at: datetime) -> tuple[sa.Subquery, list[sa.ColumnElement[Any]], _Parse]:
    """Everyone's latest submission by ``at`` as a subquery of ``participant_id``, ``document_id`` and
    answer columns, with the function that turns a row's answers into decisions per purpose: from
    :class:`ConsentLatest` when no submission in the ledger is newer than ``at``, else from the ledger."""
    newest = db.session.scalar(
        sa.select(ConsentDecision.decided_at).order_by(ConsentDecision.decided_at.desc()).limit(1)
    )
    return _latest_from_table() if newest is None or newest <= at else _latest_from_ledger(at)


def _latest_from_table() -> tuple[sa.Subquery, list[sa.ColumnElement[Any]], _Parse]:
    """Everyone's latest submission now: :class:`ConsentLatest`, its decisions as one string."""
    latest = sa.select(
        ConsentLatest.participant_id, ConsentLatest.document_id, ConsentLatest.decisions
    ).subquery()
    parsed: dict[str, dict[str, str]] = {}

    def parse(decisions: list[Any]) -> dict[str, str]:
        packed = decisions[0]
        if packed not in parsed:
            parsed[packed] = ledger.unpack_decisions(packed)
        return parsed[packed]

    return latest, [latest.c.decisions], parse


def _latest_from_ledger(at: datetime) -> tuple[sa.Subquery, list[sa.ColumnElement[Any]], _Parse]:
    """Everyone's latest submission by ``at``, ranked from the ledger in one ordered pass over its
    covering index, with the answer per purpose as 1 (no) or 2 (yes): "no" holds as the smaller, and
    small integers group by hashing where text would be sorted by its collation (a sort on disk at
    100,000 participants)."""
    codes = sorted({c for doc in db.session.scalars(sa.select(ConsentDocument)) for c in doc.purpose_codes})
    coded = sa.case((ConsentDecision.decision == "no", 1), else_=2)
    aggregates = [
        sa.func.min(sa.case((ConsentDecision.purpose == code, coded))).label(f"d{i}")
        for i, code in enumerate(codes)
    ]
    ranked = ledger.latest_decisions(at, *aggregates).subquery()
    latest = (
        sa.select(ranked.c.participant_id, ranked.c.document_id, *(ranked.c[a.name] for a in aggregates))
        .where(ranked.c.latest <= 1)
        .subquery()
    )

    def parse(decisions: list[Any]) -> dict[str, str]:
        return {code: _CODED[d] for code, d in zip(codes, decisions, strict=True) if d is not None}

    return latest, [latest.c[a.name] for a in aggregates], parse


def decision_counts(at: datetime, among: sa.Select[Any] | None = None) -> dict[str, dict[str, int]]:
    """Per purpose, how many participants' latest decision at ``at`` is yes and how many no (on any
    version of any document); ``among``: only the participants this query of ids selects.

    The latest submissions as :func:`standing_groups` reads them, grouped by their decisions alone: a
    withdrawal does not change what was decided, and nobody without a decision counts, so neither the
    withdrawals nor the roster need be read."""
    latest, answers, parse = _latest(at)
    query = sa.select(*answers, sa.func.count()).select_from(latest).group_by(*answers)
    if among is not None:
        query = query.where(latest.c.participant_id.in_(among))
    counts: dict[str, dict[str, int]] = {}
    for *decisions, n in db.session.execute(query):
        for purpose, decision in parse(decisions).items():
            counts.setdefault(purpose, {"yes": 0, "no": 0})[decision] += int(n)
    return counts


def withdrawal_counts(at: datetime) -> dict[str, int]:
    """Per withdrawal scope, how many participants have withdrawn with it by ``at`` (counted in SQL)."""
    counts = dict.fromkeys(WITHDRAWAL_SCOPES, 0)
    for scope, n in db.session.execute(
        sa.select(ConsentWithdrawal.scope, sa.func.count(sa.distinct(ConsentWithdrawal.participant_id)))
        .where(ConsentWithdrawal.withdrawn_at <= at)
        .group_by(ConsentWithdrawal.scope)
    ):
        counts[scope] = int(n)
    return counts
