"""Registering, refreshing and removing push registrations, and which of them are used.

A registration not seen for :data:`STALE_AFTER` is not used. FCM tells the sender when a registration
is dead; :func:`deactivate` stops using that one device, and only that one.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engagement import clock
from engagement.db import hour_start, utc_hour
from engagement.devices.models import Device
from engagement.extensions import db
from engagement.participants.services import today_in_oslo
from engagement.problems import NotFound

STALE_AFTER = timedelta(days=270)


class DeviceNotFound(NotFound):
    slug, title = "device-not-found", "No such device"


def registration_hash(registration: str) -> str:
    return hashlib.sha256(registration.encode()).hexdigest()


def register(
    participant_id: uuid.UUID,
    *,
    kind: str,
    registration: str,
    platform: str,
    app_version: str | None = None,
    language: str | None = None,
    at: datetime | None = None,
) -> tuple[Device, bool]:
    """Register a device, or refresh it if the registration is known; returns ``(device, created)``.

    A registration is one app installation: registered again by another participant (a shared phone,
    a new login), it moves to them, so reminders never reach the previous owner.
    """
    at = at or clock.now()
    digest = registration_hash(registration)
    device = db.session.scalars(
        sa.select(Device).where(Device.registration_hash == digest).with_for_update()
    ).first()
    created = device is None
    if device is None:
        device = Device(registration=registration, registration_hash=digest, created_at=at)
        db.session.add(device)
    device.participant_id = participant_id
    device.kind = kind
    device.platform = platform
    device.app_version = app_version
    device.language = language
    device.is_active = True
    device.deactivated_at = device.deactivated_reason = None
    device.last_seen_at = at
    device.updated_at = None if created else at
    db.session.flush()
    return device, created


def list_devices(participant_id: uuid.UUID) -> list[Device]:
    return list(
        db.session.scalars(
            sa.select(Device).where(Device.participant_id == participant_id).order_by(Device.created_at)
        )
    )


def delete(participant_id: uuid.UUID, device_id: uuid.UUID) -> None:
    """Remove one of the participant's own devices (another's answers :class:`DeviceNotFound`)."""
    device = db.session.get(Device, device_id)
    if device is None or device.participant_id != participant_id:
        raise DeviceNotFound()
    db.session.delete(device)
    db.session.flush()


def remove_all(participant_id: uuid.UUID) -> int:
    """Remove every registration of the participant (withdrawal); returns how many."""
    result = db.session.execute(sa.delete(Device).where(Device.participant_id == participant_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def deactivate(device_ids: Iterable[uuid.UUID], reason: str, at: datetime) -> int:
    """Stop using these devices (FCM said they are dead or foreign); returns how many changed."""
    ids = list(device_ids)
    if not ids:
        return 0
    result = db.session.execute(
        sa.update(Device)
        .where(Device.id.in_(ids), Device.is_active.is_(True))
        .values(is_active=False, deactivated_at=at, deactivated_reason=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def active_devices(participant_ids: Iterable[uuid.UUID], at: datetime) -> dict[uuid.UUID, list[Device]]:
    """The devices reminders go to, per participant: active and seen within :data:`STALE_AFTER`."""
    ids = list(set(participant_ids))
    found: dict[uuid.UUID, list[Device]] = defaultdict(list)
    for start in range(0, len(ids), 5000):
        rows = db.session.scalars(
            sa.select(Device)
            .where(
                db.among(Device.participant_id, ids[start : start + 5000]),
                Device.is_active.is_(True),
                Device.last_seen_at > at - STALE_AFTER,
            )
            .order_by(Device.created_at)
        )
        for device in rows:
            found[device.participant_id].append(device)
    return dict(found)


def data_copy_section(participant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The participant's devices for their data copy: never the registration, only its last characters."""
    return [
        {
            "id": d.id,
            "kind": d.kind,
            "registration_end": d.registration_end,
            "platform": d.platform,
            "app_version": d.app_version,
            "language": d.language,
            "is_active": d.is_active,
            "created_at": d.created_at,
            "last_seen_at": d.last_seen_at,
        }
        for d in list_devices(participant_id)
    ]


def deactivations(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Devices taken out of use, per Europe/Oslo day and reason (as FCM gave it), oldest day first."""
    hour = utc_hour(Device.deactivated_at).label("hour")
    query = (
        sa.select(hour, Device.deactivated_reason, sa.func.count())
        .where(Device.is_active.is_(False), Device.deactivated_at >= since, Device.deactivated_at < until)
        .group_by(hour, Device.deactivated_reason)
    )
    days: Counter[tuple[date, str]] = Counter()
    for bucket, reason, n in db.session.execute(query):
        days[(today_in_oslo(hour_start(bucket)), reason or "unknown")] += int(n)
    return [{"date": day, "reason": reason, "devices": n} for (day, reason), n in sorted(days.items())]
