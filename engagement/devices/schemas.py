"""Wire shapes of push registrations."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engagement.devices.models import KINDS, PLATFORMS


class DeviceRegisterSchema(ma.Schema):
    """Register this app installation for reminders (again: refreshes it)."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(KINDS),
        metadata={"description": "fcm_token: an FCM registration token; fid: a Firebase installation id"},
    )
    registration = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "the registration token or installation id"},
    )
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    app_version = fields.String(validate=validate.Length(max=32), load_default=None, allow_none=True)
    language = fields.String(
        validate=validate.Length(max=16),
        load_default=None,
        allow_none=True,
        metadata={"description": "the app's language tag (nb, nn, en); reminders are written in it"},
    )


class DeviceSchema(ma.Schema):
    """A registered device; the registration itself is never shown, only its last characters."""

    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    registration_end = fields.String(required=True)
    platform = fields.String(required=True)
    app_version = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)
    last_seen_at = fields.AwareDateTime(required=True)
