"""Append-only audit events: who did what to which object, and when. Never a fødselsnummer.

:func:`record` is the one way to write an event; rows are never updated or deleted (enforced on
flush here, and by the migration's trigger on PostgreSQL).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import g, has_request_context

from engagement import clock
from engagement.db import Base
from engagement.extensions import db

_ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
# a UUID's last group may hold eleven digits next to a hex letter; that is no fødselsnummer
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _has_eleven_digits(text: str) -> bool:
    return bool(_ELEVEN_DIGITS.search(_UUID.sub("-", text)))


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    occurred_at: so.Mapped[datetime] = so.mapped_column(default=clock.now, index=True)
    actor_kind: so.Mapped[str] = so.mapped_column(sa.String(16))  # participant | staff | system
    actor_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    action: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    object_type: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    object_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    details: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    request_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))


def record(
    action: str,
    *,
    actor_kind: str = "system",
    actor_id: uuid.UUID | str | None = None,
    object_type: str | None = None,
    object_id: uuid.UUID | str | int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current unit of work (it commits with it)."""
    details = details or {}
    if _has_eleven_digits(repr(details)) or _has_eleven_digits(str(object_id or "")):
        raise ValueError("audit details must not contain an eleven-digit number")
    event = AuditEvent(
        occurred_at=clock.now(),
        actor_kind=actor_kind,
        actor_id=str(actor_id) if actor_id is not None else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        details=details,
        request_id=g.get("request_id") if has_request_context() else None,
    )
    db.session.add(event)
    return event


@dataclass(frozen=True)
class Page:
    """One page of audit events, newest first, and how many match in all."""

    events: list[AuditEvent]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search(
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Audit events, newest first, filtered by actor (an actor id, or a kind: staff, participant,
    system), action (exact, or a prefix ending in ``.``, e.g. ``research.``) and time (``since`` up to
    but not including ``until``), one page at a time."""
    where: list[sa.ColumnElement[bool]] = []
    if actor:
        where.append(
            AuditEvent.actor_kind == actor
            if actor in ("staff", "participant", "system")
            else AuditEvent.actor_id == actor
        )
    if action:
        where.append(
            AuditEvent.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEvent.action == action
        )
    if since is not None:
        where.append(AuditEvent.occurred_at >= since)
    if until is not None:
        where.append(AuditEvent.occurred_at < until)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(*where)) or 0
    page = max(1, page)
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(*where)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(list(events), int(total), page, per_page)


def actions() -> list[str]:
    """Every action that has been recorded, for a filter's choices."""
    return list(db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


class AuditLedgerViolation(RuntimeError):
    pass


@sa.event.listens_for(so.Session, "before_flush")
def _audit_is_append_only(session: so.Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLedgerViolation("audit events are never changed or deleted")
