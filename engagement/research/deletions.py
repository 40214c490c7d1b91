"""What the projects hold of a participant: the deliveries that carried their data, and the
deletion lists a withdrawal with deletion adds to each such project's next delivery.

A withdrawal with deletion and the end of an extract never miss each other: both take one
PostgreSQL advisory lock until they commit (:func:`list_for_deletion`, :func:`list_late_deletions`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engagement import clock
from engagement.consent import services as consent
from engagement.consent.models import ConsentWithdrawal
from engagement.extensions import db
from engagement.research.models import Extract, ExtractResponse, PendingDeletion, Pseudonym, ResearchProject


def list_for_deletion(participant_id: uuid.UUID, withdrawal_id: uuid.UUID, at: datetime) -> int:
    """For every project that received the participant's data, record their pseudonym for the next
    delivery's deletion list; returns the number of projects.

    Waits for extracts finishing their recording (:func:`list_late_deletions`), so that what they
    delivered is seen here, or else they see this withdrawal."""
    _serialise_with_deletions()
    delivered = db.session.scalars(
        sa.select(Pseudonym)
        .where(
            Pseudonym.participant_id == participant_id,
            sa.exists().where(ExtractResponse.pseudonym_id == Pseudonym.id),
        )
        .order_by(Pseudonym.project_id)
    ).all()
    for pseudonym in delivered:
        db.session.add(
            PendingDeletion(
                project_id=pseudonym.project_id,
                pseudonym_id=pseudonym.id,
                withdrawal_id=withdrawal_id,
                recorded_at=at,
            )
        )
    db.session.flush()
    return len(delivered)


# A withdrawal with deletion, and the end of an extract, each hold this PostgreSQL advisory lock until
# they commit: one of the two sees the other's work (:func:`list_late_deletions`).
_DELETIONS_LOCK = 0x6D6F626144656C  # "mobaDel"


def _serialise_with_deletions() -> None:
    """Take the deletions lock until this transaction ends (PostgreSQL; SQLite has one writer at a
    time already, and an extract that read before another writer committed cannot write after it)."""
    if db.is_postgres:
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_DELETIONS_LOCK)))


def pending_for(project_id: uuid.UUID) -> list[tuple[PendingDeletion, int]]:
    """The deletions not yet listed in a delivery of the project, each with its pseudonym."""
    return [
        (pending, number)
        for pending, number in db.session.execute(
            sa.select(PendingDeletion, Pseudonym.pseudonym)
            .join(Pseudonym, Pseudonym.id == PendingDeletion.pseudonym_id)
            .where(PendingDeletion.project_id == project_id, PendingDeletion.listed_in_extract_id.is_(None))
        )
    ]


def mark_listed(pending: Sequence[PendingDeletion], extract_id: uuid.UUID) -> None:
    """The deletions listed in the delivery ``extract_id``."""
    if pending:
        db.session.execute(
            sa.update(PendingDeletion)
            .where(PendingDeletion.id.in_([p.id for p in pending]))
            .values(listed_in_extract_id=extract_id)
        )


def list_late_deletions(
    project_id: uuid.UUID,
    extract_id: uuid.UUID,
    seen: Mapping[uuid.UUID, Sequence[tuple[datetime, str]]],
) -> int:
    """A withdrawal with deletion that committed while this extract ran was not seen by its consent
    read, and did not see this extract's ledger (not yet committed): the person's data may be in this
    delivery, and no project would be told to delete it. Such withdrawals of people delivered now are
    recorded for the project's next deletion list here, under the lock that :func:`list_for_deletion`
    takes, so that a withdrawal committing later sees this ledger instead. Returns how many."""
    _serialise_with_deletions()
    delivered_now = sa.exists().where(
        ExtractResponse.extract_id == extract_id, ExtractResponse.pseudonym_id == Pseudonym.id
    )
    listed = sa.exists().where(
        PendingDeletion.pseudonym_id == Pseudonym.id, PendingDeletion.withdrawal_id == ConsentWithdrawal.id
    )
    candidates = db.session.execute(
        sa.select(
            ConsentWithdrawal.id,
            ConsentWithdrawal.participant_id,
            ConsentWithdrawal.withdrawn_at,
            Pseudonym.id,
        )
        .join(Pseudonym, Pseudonym.participant_id == ConsentWithdrawal.participant_id)
        .where(
            Pseudonym.project_id == project_id,
            ConsentWithdrawal.scope == consent.DELETE_DATA,
            delivered_now,
            ~listed,
        )
    ).all()
    late = [
        (withdrawal_id, pseudonym_id)
        for withdrawal_id, participant_id, withdrawn_at, pseudonym_id in candidates
        if (withdrawn_at, consent.DELETE_DATA) not in seen.get(participant_id, ())
    ]
    for withdrawal_id, pseudonym_id in late:
        db.session.add(
            PendingDeletion(
                project_id=project_id,
                pseudonym_id=pseudonym_id,
                withdrawal_id=withdrawal_id,
                recorded_at=clock.now(),
            )
        )
    db.session.flush()
    return len(late)


def deliveries_of(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The research projects that received the participant's data, and when (newest first)."""
    query = (
        sa.select(
            ResearchProject.code,
            ResearchProject.title,
            ResearchProject.approval_reference,
            Extract.release,
            Extract.created_at,
        )
        .join(Extract, Extract.project_id == ResearchProject.id)
        .join(ExtractResponse, ExtractResponse.extract_id == Extract.id)
        .join(Pseudonym, Pseudonym.id == ExtractResponse.pseudonym_id)
        .where(Pseudonym.participant_id == participant_id)
        .distinct()
        .order_by(Extract.created_at.desc(), ResearchProject.code)
    )
    return [
        {
            "project": code,
            "title": title,
            "approval_reference": reference,
            "release": release,
            "delivered_at": at,
        }
        for code, title, reference, release, at in db.session.execute(query)
    ]
