"""Wire shapes of withdrawal, deletion requests and the participant's data copy."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engagement.consent.models import WITHDRAWAL_SCOPES
from engagement.consent.schemas import ConsentHistoryEntrySchema
from engagement.research.schemas import ResearchDeliverySectionSchema


class WithdrawalLoadSchema(ma.Schema):
    """Withdraw: stop contact, stop new data, or delete data (and optionally ask for childhood data too)."""

    scope = fields.String(
        required=True,
        validate=validate.OneOf(WITHDRAWAL_SCOPES),
        metadata={
            "description": "no_contact: no reminders or messages, data stays in use; "
            "no_new_data: no new tasks or reminders, data already given stays in research; "
            "delete_data: as no_new_data, and responses and drafts are deleted and left out of every extract"
        },
    )
    delete_childhood_data = fields.Boolean(
        load_default=False,
        metadata={
            "description": "with delete_data: also ask MoBa to delete what it collected in childhood "
            "from the cohort's own files (done by coordinators; the data copy shows the status)"
        },
    )


class EffectSchema(ma.Schema):
    effect = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "done or not_applicable"})
    count = fields.Integer(allow_none=True)
    detail = fields.String(allow_none=True)


class DeletionRequestSchema(ma.Schema):
    id = fields.UUID(required=True)
    requested_at = fields.AwareDateTime(required=True)
    status = fields.String(required=True, metadata={"description": "open or done"})
    done_at = fields.AwareDateTime(allow_none=True)


class WithdrawalReceiptSchema(ma.Schema):
    """What was done, at once, in one transaction."""

    withdrawal_id = fields.UUID(required=True)
    scope = fields.String(required=True)
    effective_scope = fields.String(
        required=True, metadata={"description": "the strongest withdrawal in force now"}
    )
    withdrawn_at = fields.AwareDateTime(required=True)
    effects = fields.List(fields.Nested(EffectSchema), required=True)
    deletion_request = fields.Nested(DeletionRequestSchema, allow_none=True)


class AdminDeletionRequestSchema(DeletionRequestSchema):
    participant_id = fields.UUID(required=True)
    cohort_person_id = fields.String(required=True)
    withdrawal_id = fields.UUID(required=True)
    done_by = fields.UUID(allow_none=True)
    note = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)


class DeletionRequestQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf(("open", "done", "all")), load_default="open")


class DeletionDoneLoadSchema(ma.Schema):
    note = fields.String(validate=validate.Length(max=500), load_default=None, allow_none=True)
    reference = fields.String(
        validate=validate.Length(max=100),
        load_default=None,
        allow_none=True,
        metadata={"description": "the case in the cohort's own system where the deletion was done"},
    )


class ProfileSectionSchema(ma.Schema):
    id = fields.UUID(required=True)
    cohort_person_id = fields.String(required=True)
    birth_date = fields.Date(required=True)
    language = fields.String(required=True)
    time_zone = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(allow_none=True)


class WithdrawalSectionSchema(ma.Schema):
    id = fields.UUID(required=True)
    scope = fields.String(required=True)
    withdrawn_at = fields.AwareDateTime(required=True)
    acr = fields.String(allow_none=True)
    effects = fields.List(fields.Nested(EffectSchema), required=True)


class SessionSectionSchema(ma.Schema):
    id = fields.UUID(required=True)
    client_id = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    auth_time = fields.AwareDateTime(allow_none=True)
    acr = fields.String(allow_none=True)


class AnswerSectionSchema(ma.Schema):
    item = fields.String(required=True)
    question = fields.String(allow_none=True, metadata={"description": "the question, in my language"})
    answer = fields.Raw(allow_none=True, metadata={"description": "my answer as I gave it"})


class TaskSectionSchema(ma.Schema):
    id = fields.UUID(required=True)
    questionnaire = fields.String(required=True)
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True)
    opens_at = fields.AwareDateTime(required=True)
    due_at = fields.AwareDateTime(allow_none=True)
    submitted_at = fields.AwareDateTime(allow_none=True)
    answers = fields.List(fields.Nested(AnswerSectionSchema), required=True)


class DeviceSectionSchema(ma.Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    registration_end = fields.String(required=True, metadata={"description": "last characters only"})
    platform = fields.String(required=True)
    app_version = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)
    last_seen_at = fields.AwareDateTime(required=True)


class ReminderSectionSchema(ma.Schema):
    id = fields.UUID(required=True)
    wave = fields.String(required=True)
    task_id = fields.UUID(required=True)
    sequence = fields.Integer(required=True)
    sent_at = fields.AwareDateTime(required=True)
    opened_at = fields.AwareDateTime(allow_none=True)
    template = fields.String(allow_none=True)


class DataCopySchema(ma.Schema):
    """Everything the service holds about me (GDPR articles 15 and 20), one section per kind of data."""

    generated_at = fields.AwareDateTime(required=True)
    profile = fields.Nested(ProfileSectionSchema, required=True)
    consent_history = fields.List(fields.Nested(ConsentHistoryEntrySchema), required=True)
    withdrawals = fields.List(fields.Nested(WithdrawalSectionSchema), required=True)
    deletion_requests = fields.List(fields.Nested(DeletionRequestSchema), required=True)
    sessions = fields.List(fields.Nested(SessionSectionSchema), required=True)
    tasks = fields.List(fields.Nested(TaskSectionSchema), required=True)
    research_deliveries = fields.List(
        fields.Nested(ResearchDeliverySectionSchema),
        required=True,
        metadata={"description": "research projects that received my data (name, approval), and when"},
    )
    devices = fields.List(fields.Nested(DeviceSectionSchema), required=True)
    reminders = fields.List(
        fields.Nested(ReminderSectionSchema), required=True, metadata={"description": "reminders sent"}
    )
