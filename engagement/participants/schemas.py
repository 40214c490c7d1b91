"""Wire shapes of the participant's profile and of the roster import."""

from __future__ import annotations

import marshmallow as ma

from engagement.participants.models import LANGUAGES


class ProfileSchema(ma.Schema):
    """The participant's own profile (``GET /v1/me``)."""

    id = ma.fields.UUID(required=True, metadata={"description": "internal participant id"})
    language = ma.fields.String(required=True, metadata={"enum": list(LANGUAGES)})
    time_zone = ma.fields.String(required=True, metadata={"example": "Europe/Oslo"})
    age = ma.fields.Integer(required=True, metadata={"description": "age in whole years today (Europe/Oslo)"})
    preferred_reminder_hours = ma.fields.List(
        ma.fields.Integer(),
        allow_none=True,
        metadata={"description": "hours of the day (0-23, local time) when reminders are welcome; null: any"},
    )
    consent_decision_pending = ma.fields.Boolean(
        metadata={
            "description": "whether the participant must decide on a consent document before going on "
            "(contributed by the consent layer; absent until it is installed)"
        }
    )


class ProfileUpdateSchema(ma.Schema):
    """What a participant may change about themselves (``PATCH /v1/me``); every field optional."""

    language = ma.fields.String(validate=ma.validate.OneOf(LANGUAGES))
    time_zone = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    preferred_reminder_hours = ma.fields.List(
        ma.fields.Integer(validate=ma.validate.Range(min=0, max=23)),
        allow_none=True,
        validate=ma.validate.Length(max=24),
    )


class RosterLineSchema(ma.Schema):
    line = ma.fields.Integer(required=True)
    reasons = ma.fields.List(ma.fields.String(), required=True)


class RosterImportSchema(ma.Schema):
    """The outcome of a roster import that went through."""

    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
