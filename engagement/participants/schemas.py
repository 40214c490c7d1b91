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
    outcome = ma.fields.String(required=True, metadata={"enum": ["create", "update", "unchanged", "refused"]})
    cohort_person_id = ma.fields.String(allow_none=True)
    reasons = ma.fields.List(ma.fields.String(), required=True)


class RosterArgsSchema(ma.Schema):
    dry_run = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "only say what each line would do (nothing changes); refused lines too"},
    )


class RosterImportSchema(ma.Schema):
    """The outcome of a roster import that went through, or of its dry run (with ``lines``)."""

    dry_run = ma.fields.Boolean(metadata={"description": "true on a dry run (nothing changed)"})
    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    unchanged = ma.fields.Integer(required=True)
    refused = ma.fields.Integer(metadata={"description": "lines that would be refused (dry run only)"})
    total = ma.fields.Integer(required=True)
    lines = ma.fields.List(
        ma.fields.Nested(RosterLineSchema), metadata={"description": "each line's outcome (dry run only)"}
    )


class IdentityCorrectionSchema(ma.Schema):
    """Bind a record to another person (``POST /v1/admin/participants/{cohort_person_id}/identity``)."""

    fodselsnummer = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(max=32),
        metadata={"description": "the right fødselsnummer or D-number; kept only as its keyed hash"},
    )
    reason = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=10, max=500),
        metadata={"description": "why the record belongs to someone else (audited; no numbers)"},
    )
    birth_date = ma.fields.Date(
        load_default=None, metadata={"description": "the right birth date, when it was wrong too"}
    )


class IdentityCorrectedSchema(ma.Schema):
    cohort_person_id = ma.fields.String(required=True)
    corrected_at = ma.fields.AwareDateTime(required=True)
    sessions_ended = ma.fields.Integer(
        required=True, metadata={"description": "sessions of the record that were ended"}
    )
