"""Wire shapes of the consent API: one load schema per request body, one dump schema per response.

The dump schemas read the consent domain's own objects (a published document, a ledger submission, a
participant's state), so that the serialisation lives here and nowhere else."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engagement.consent.models import DECISIONS, WITHDRAWAL_SCOPES


class TextsSchema(ma.Schema):
    """A participant-facing text in Bokmål, Nynorsk and English (Markdown)."""

    nb = fields.String(required=True)
    nn = fields.String(required=True)
    en = fields.String(required=True)


class ConsentPurposeSchema(ma.Schema):
    code = fields.String(required=True, metadata={"description": "stable purpose code"})
    required = fields.Boolean(required=True, metadata={"description": "required to take part at all"})
    duo = fields.String(
        allow_none=True, dump_default=None, metadata={"description": "GA4GH Data Use Ontology term"}
    )
    title = fields.Nested(TextsSchema, required=True)
    explanation = fields.Nested(TextsSchema, required=True)


class ConsentDocumentSchema(ma.Schema):
    """A published, immutable version of a consent document."""

    key = fields.String(required=True)
    version = fields.Integer(required=True)
    change = fields.String(
        required=True,
        attribute="change_class",
        validate=validate.OneOf(("major", "minor")),
        metadata={"description": "major: decide again before new tasks; minor: earlier decisions stand"},
    )
    change_note = fields.Nested(
        TextsSchema, allow_none=True, attribute="content.change_note", dump_default=None
    )
    published_at = fields.AwareDateTime(required=True)
    content_hash = fields.String(required=True)
    title = fields.Nested(TextsSchema, required=True, attribute="content.title")
    text = fields.Nested(
        TextsSchema, required=True, attribute="content.text", metadata={"description": "Markdown"}
    )
    purposes = fields.List(fields.Nested(ConsentPurposeSchema), required=True, attribute="content.purposes")


class PurposeStateSchema(ma.Schema):
    code = fields.String(required=True)
    required = fields.Boolean(required=True)
    decision = fields.String(
        allow_none=True, required=True, metadata={"description": "yes, no, or null when not decided"}
    )


class WithdrawalStateSchema(ma.Schema):
    scope = fields.String(required=True, validate=validate.OneOf(WITHDRAWAL_SCOPES))
    withdrawn_at = fields.AwareDateTime(required=True)


class ConsentStateSchema(ma.Schema):
    """The current document, the participant's state per purpose, and whether they must decide now."""

    document = fields.Nested(ConsentDocumentSchema, required=True)
    purposes = fields.List(fields.Nested(PurposeStateSchema), required=True)
    decided_version = fields.Integer(allow_none=True, required=True)
    decided_at = fields.AwareDateTime(allow_none=True, required=True)
    change_since_decision = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "none, minor or major: the largest change published since the decision"},
    )
    decision_required = fields.Boolean(required=True)
    can_decide = fields.Boolean(required=True, metadata={"description": "18 or older today (Norway)"})
    withdrawal = fields.Nested(WithdrawalStateSchema, allow_none=True, required=True)


class ConsentDecisionLoadSchema(ma.Schema):
    """A decision per purpose on the current version of the consent document."""

    document_key = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    decisions = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=64)),
        values=fields.String(validate=validate.OneOf(DECISIONS)),
        required=True,
        metadata={"description": "purpose code -> yes | no, for every purpose of the document"},
    )


class DecisionSchema(ma.Schema):
    purpose = fields.String(required=True)
    decision = fields.String(required=True)


class ConsentHistoryEntrySchema(ma.Schema):
    """One submission: when, on which document version (with its text), under which login."""

    batch_id = fields.UUID(required=True)
    decided_at = fields.AwareDateTime(required=True)
    acr = fields.String(allow_none=True, required=True)
    auth_time = fields.AwareDateTime(allow_none=True, required=True)
    document = fields.Nested(ConsentDocumentSchema, required=True)
    decisions = fields.List(fields.Nested(DecisionSchema), required=True)


class ConsentCountSchema(ma.Schema):
    key = fields.String(required=True)
    version = fields.Integer(required=True)
    purpose = fields.String(required=True)
    decision = fields.String(required=True)
    participants = fields.Integer(required=True)


class ConsentSummarySchema(ma.Schema):
    """Each participant's latest decision counted per version, purpose and decision."""

    document_key = fields.String(required=True)
    current_version = fields.Integer(allow_none=True, required=True)
    counts = fields.List(fields.Nested(ConsentCountSchema), required=True)
    withdrawn = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    must_decide = fields.Integer(
        required=True, metadata={"description": "participants aged 18+ who must still decide on it"}
    )
    participants = fields.Integer(required=True)
