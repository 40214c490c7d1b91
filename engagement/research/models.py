"""Research projects, their members, per-project pseudonyms, and the ledger of extract deliveries.

The pseudonym table is the identity side of an extract: the only place where a participant's
internal id meets the number a project sees. Extracts read it; nothing else does. Deliveries and what
they held (response by response) are a ledger: rows are added, never changed, so that an incremental
delivery knows what the project already has and a withdrawal with deletion knows whom to list.
An extract job is the request for a delivery, run by a worker: at most one per project is queued or
running at a time (a partial unique index says so to every process).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from engagement import clock
from engagement.db import Base, CreatedMixin, IdMixin, partial_index

EXTRACT_KINDS = ("full", "since-last")
JOB_STATES = ("queued", "running", "done", "failed")
ACTIVE_JOB_STATES = ("queued", "running")


class ResearchProject(IdMixin, CreatedMixin, Base):
    """An approved project: what it may receive (questionnaires), under which consent purposes, and where."""

    __tablename__ = "research_project"

    code: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(255))
    approval_reference: so.Mapped[str] = so.mapped_column(sa.String(64))
    purposes: so.Mapped[list[str]] = so.mapped_column(sa.JSON)
    questionnaires: so.Mapped[list[str]] = so.mapped_column(sa.JSON)
    data_use_codes: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    folder: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_by: so.Mapped[uuid.UUID | None]

    members: so.Mapped[list[ProjectMember]] = so.relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ProjectMember.staff_user_id"
    )

    def member_ids(self) -> set[uuid.UUID]:
        return {m.staff_user_id for m in self.members}


class ProjectMember(Base):
    """A researcher who may list and download the project's deliveries."""

    __tablename__ = "research_project_member"

    project_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("research_project.id", ondelete="CASCADE"), primary_key=True
    )
    staff_user_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("staff_user.id"), primary_key=True)


class Pseudonym(IdMixin, Base):
    """A participant's number in one project: drawn at random, unique in the project, never changed."""

    __tablename__ = "research_pseudonym"
    __table_args__ = (
        # participant first: it also serves the lookups by participant (withdrawal, data copy) and the
        # participant foreign key, so no separate index on participant_id is needed; a project's
        # pseudonyms are read through the (project_id, pseudonym) one
        sa.UniqueConstraint("participant_id", "project_id"),
        sa.UniqueConstraint("project_id", "pseudonym"),
    )

    project_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("research_project.id"))
    participant_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("participant.id"))
    pseudonym: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)


class Extract(IdMixin, Base):
    """One delivery written into the data store: ``<store>/<folder>/<release>/``."""

    __tablename__ = "research_extract"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "release"),
        sa.CheckConstraint("kind IN ('full', 'since-last')", name="kind"),
    )

    project_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("research_project.id"), index=True)
    release: so.Mapped[str] = so.mapped_column(sa.String(64))
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    previous_extract_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("research_extract.id"))
    consent_snapshot_at: so.Mapped[datetime]
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    created_by_kind: so.Mapped[str] = so.mapped_column(sa.String(16))  # staff | system
    created_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    rows: so.Mapped[int]
    participants: so.Mapped[int]
    deletions: so.Mapped[int]
    files: so.Mapped[list[dict[str, Any]]] = so.mapped_column(sa.JSON)  # path, bytes, sha256
    manifest: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, deferred=True)

    project: so.Mapped[ResearchProject] = so.relationship()


class ExtractResponse(Base):
    """A response delivered in an extract, under the participant's pseudonym in that project.

    ``response_id`` has no foreign key on purpose: a withdrawal with deletion removes the response,
    and this row must stay to say which project received it (and under which pseudonym) before.
    Rows are read by extract (the primary key: what a project already has) and by pseudonym (whom a
    withdrawal lists, the participant's data copy); never by response alone, so no index on it.
    """

    __tablename__ = "research_extract_response"

    extract_id: so.Mapped[uuid.UUID] = so.mapped_column(
        sa.ForeignKey("research_extract.id"), primary_key=True
    )
    response_id: so.Mapped[uuid.UUID] = so.mapped_column(primary_key=True)
    pseudonym_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("research_pseudonym.id"), index=True)


class PendingDeletion(IdMixin, Base):
    """A pseudonym the project must delete from what it received, listed in its next delivery."""

    __tablename__ = "research_pending_deletion"
    __table_args__ = (sa.UniqueConstraint("pseudonym_id", "withdrawal_id"),)

    project_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("research_project.id"), index=True)
    pseudonym_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("research_pseudonym.id"))
    withdrawal_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("consent_withdrawal.id"))
    recorded_at: so.Mapped[datetime]
    listed_in_extract_id: so.Mapped[uuid.UUID | None] = so.mapped_column(
        sa.ForeignKey("research_extract.id"), index=True
    )


class ExtractJob(IdMixin, Base):
    """A requested delivery: queued, then running (claimed by a worker under a lease), then done with its
    delivery or failed with the reason. A job whose worker's lease ran out is claimed again."""

    __tablename__ = "research_extract_job"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('full', 'since-last')", name="kind"),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        # one active job per project, whichever process asks
        partial_index(
            "ix_research_extract_job_active_project",
            "project_id",
            where="status IN ('queued', 'running')",
            unique=True,
        ),
    )

    project_id: so.Mapped[uuid.UUID] = so.mapped_column(sa.ForeignKey("research_project.id"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(16))
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="queued")
    requested_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)
    requested_by_kind: so.Mapped[str] = so.mapped_column(sa.String(16))  # staff | system
    requested_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    started_at: so.Mapped[datetime | None]
    finished_at: so.Mapped[datetime | None]
    stage: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    progress: so.Mapped[float] = so.mapped_column(default=0.0)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    locked_by: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    locked_until: so.Mapped[datetime | None]
    extract_id: so.Mapped[uuid.UUID | None] = so.mapped_column(sa.ForeignKey("research_extract.id"))
    failure: so.Mapped[str | None] = so.mapped_column(sa.String(500))

    project: so.Mapped[ResearchProject] = so.relationship()
    extract: so.Mapped[Extract | None] = so.relationship()
