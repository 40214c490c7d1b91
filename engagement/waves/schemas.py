"""Wire shapes of waves, their preview and statistics, and reminder receipts."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

_POLICY = {
    "description": "offsets_days (after the task opens, local days), window {start, end} (HH:MM local), "
    "quiet_hours [{start, end}], max_per_wave, weekly_cap (per participant, all waves, 7 days), "
    "min_gap_hours; missing fields take the defaults",
    "example": {
        "offsets_days": [0, 3, 7, 14],
        "window": {"start": "17:00", "end": "20:00"},
        "quiet_hours": [{"start": "21:00", "end": "09:00"}],
        "max_per_wave": 4,
        "weekly_cap": 3,
        "min_gap_hours": 20,
    },
}
_ELIGIBILITY = {
    "description": 'Europe/Oslo dates: {"kind": "age", "min_age": 18, "max_age": 20, "on": "2027-01-01"} '
    '(age on a day; none: the day of launch or refresh) or {"kind": "turns_18_between", "from": ..., '
    '"to": ...}; always 18 or older today, consented to the required purposes and not withdrawn',
    "example": {"kind": "turns_18_between", "from": "2026-01-01", "to": "2027-12-31"},
}


class WaveCreateSchema(ma.Schema):
    """A new wave (a draft until launched)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    questionnaire_key = fields.String(required=True, validate=validate.Length(min=1, max=32))
    questionnaire_version = fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))
    eligibility = fields.Dict(required=True, metadata=_ELIGIBILITY)
    required_purposes = fields.List(
        fields.String(validate=validate.Length(max=64)),
        load_default=list,
        metadata={"description": "consent purposes needed besides the questionnaire's own"},
    )
    opens_at = fields.AwareDateTime(required=True)
    closes_at = fields.AwareDateTime(required=True)
    rolling = fields.Boolean(
        load_default=False,
        metadata={"description": "keep adding people who become eligible (an 18th birthday) until it closes"},
    )
    reminder_policy = fields.Dict(load_default=dict, metadata=_POLICY)


class WaveSchema(ma.Schema):
    """A wave."""

    id = fields.UUID(required=True)
    name = fields.String(required=True)
    questionnaire_key = fields.Function(lambda w: w.questionnaire_version.key)
    questionnaire_version = fields.Function(lambda w: w.questionnaire_version.version)
    eligibility = fields.Dict(required=True)
    required_purposes = fields.List(fields.String(), required=True)
    opens_at = fields.AwareDateTime(required=True)
    closes_at = fields.AwareDateTime(required=True)
    rolling = fields.Boolean(attribute="is_rolling", required=True)
    reminder_policy = fields.Dict(required=True)
    status = fields.String(required=True, metadata={"description": "draft, launched or closed"})
    launched_at = fields.AwareDateTime(allow_none=True)
    launched_count = fields.Integer(allow_none=True, metadata={"description": "tasks created at launch"})
    closed_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime(required=True)


class WaveLaunchedSchema(WaveSchema):
    created = fields.Integer(required=True, metadata={"description": "tasks created by this call"})


class WaveClosedSchema(WaveSchema):
    tasks_expired = fields.Integer(required=True)
    reminders_cancelled = fields.Integer(required=True)


class SampleSchema(ma.Schema):
    participant_id = fields.UUID(required=True)
    cohort_person_id = fields.String(required=True)
    birth_date = fields.Date(required=True)


class WavePreviewSchema(ma.Schema):
    """Who the wave would reach now."""

    wave_id = fields.UUID(required=True)
    at = fields.AwareDateTime(required=True)
    eligible = fields.Integer(required=True, metadata={"description": "eligible now, with a task or not"})
    tasks = fields.Integer(required=True, metadata={"description": "tasks the wave has given already"})
    sample = fields.List(fields.Nested(SampleSchema), required=True)


class DailySchema(ma.Schema):
    date = fields.Date(required=True)
    tasks = fields.Integer(required=True)
    reminded = fields.Integer(required=True)
    opened = fields.Integer(required=True)
    started = fields.Integer(required=True)
    submitted = fields.Integer(required=True)


class WaveStatsSchema(ma.Schema):
    """A wave's figures and their daily series (Europe/Oslo dates)."""

    wave_id = fields.UUID(required=True)
    status = fields.String(required=True)
    at = fields.AwareDateTime(required=True)
    eligible = fields.Integer(required=True)
    tasks = fields.Integer(required=True)
    reminded = fields.Integer(required=True, metadata={"description": "tasks with a reminder sent"})
    opened = fields.Integer(required=True, metadata={"description": "tasks with a reminder opened"})
    started = fields.Integer(required=True)
    submitted = fields.Integer(required=True)
    response_rate = fields.Float(required=True, metadata={"description": "submitted / tasks"})
    daily = fields.List(fields.Nested(DailySchema), required=True)


class StatsArgsSchema(ma.Schema):
    """Query: ``format=csv`` gives the daily series as text/csv."""

    format = fields.String(validate=validate.OneOf(("json", "csv")), load_default="json")
