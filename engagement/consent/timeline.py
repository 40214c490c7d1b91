"""Consent decisions over time: how many participants stood at yes or no on each purpose, day by day.

Aggregated in SQL from the decision ledger: a decision that changes a participant's answer on a
purpose adds one to the new answer and takes one from the old one, counted per UTC hour; the running
totals are then laid out per Europe/Oslo day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from engagement.consent.models import DECISIONS, ConsentDecision
from engagement.db import hour_start, utc_hour
from engagement.extensions import db
from engagement.participants.services import today_in_oslo


@dataclass(frozen=True)
class DecisionTimeline:
    """Per purpose, per day from ``first`` to ``last``: participants whose latest decision was yes / no."""

    purposes: list[str]
    days: list[date] = field(default_factory=list)
    # (purpose, decision) -> one count per day in ``days``
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, object]]:
        """One row per day and purpose (the table under the chart)."""
        return [
            {
                "date": day,
                "purpose": purpose,
                **{decision: self.counts[(purpose, decision)][i] for decision in DECISIONS},
            }
            for i, day in enumerate(self.days)
            for purpose in self.purposes
        ]


def decision_timeline(since: date, until: date) -> DecisionTimeline:
    """Each participant's latest decision per purpose as the ledger stood at the end of each Oslo day
    from ``since`` to ``until`` (decisions before ``since`` count towards the first day). Withdrawals
    are a ledger of their own and are not folded in here."""
    ordered = sa.select(
        ConsentDecision.purpose,
        ConsentDecision.decision,
        ConsentDecision.decided_at,
        sa.func.lag(ConsentDecision.decision)
        .over(
            partition_by=(ConsentDecision.participant_id, ConsentDecision.purpose),
            order_by=(ConsentDecision.decided_at, ConsentDecision.id),
        )
        .label("before"),
    ).subquery()
    hour = utc_hour(ordered.c.decided_at).label("hour")
    changed = sa.or_(ordered.c.before.is_(None), ordered.c.before != ordered.c.decision)
    gained = (
        sa.select(hour, ordered.c.purpose, ordered.c.decision, sa.func.count())
        .where(changed)
        .group_by(hour, ordered.c.purpose, ordered.c.decision)
    )
    lost = (
        sa.select(hour, ordered.c.purpose, ordered.c.before, -sa.func.count())
        .where(ordered.c.before.is_not(None), ordered.c.before != ordered.c.decision)
        .group_by(hour, ordered.c.purpose, ordered.c.before)
    )
    deltas: dict[date, Counter[tuple[str, str]]] = {}
    purposes: set[str] = set()
    for bucket, purpose, decision, change in db.session.execute(sa.union_all(gained, lost)):
        day = max(today_in_oslo(hour_start(bucket)), since)
        deltas.setdefault(day, Counter())[(purpose, decision)] += int(change)
        purposes.add(purpose)
    timeline = DecisionTimeline(sorted(purposes))
    running: Counter[tuple[str, str]] = Counter()
    for purpose in timeline.purposes:
        for decision in DECISIONS:
            timeline.counts[(purpose, decision)] = []
    day = since
    while day <= until:
        running.update(deltas.get(day, Counter()))
        timeline.days.append(day)
        for key, series in timeline.counts.items():
            series.append(running[key])
        day += timedelta(days=1)
    return timeline


def default_window(at: datetime, days: int = 90) -> tuple[date, date]:
    """The Oslo days a console chart shows by default: the last ``days`` days up to ``at``."""
    until = today_in_oslo(at)
    return until - timedelta(days=days - 1), until
