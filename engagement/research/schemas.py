"""Wire shapes of research projects and extract deliveries: one load and one dump schema per resource."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

CODE = validate.Regexp(r"^[A-Za-z][A-Za-z0-9_-]{1,31}$", error="letters, digits, _ and -; e.g. PDB9999")
FOLDER = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", error="a folder name: A-Z, a-z, 0-9, _, . and -"
)
DUO = validate.Regexp(r"^DUO:\d{7}$", error="a DUO CURIE like DUO:0000006")


class ResearchProjectLoadSchema(ma.Schema):
    """Register an approved research project."""

    code = fields.String(required=True, validate=CODE, metadata={"example": "PDB9999"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=255))
    approval_reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "e.g. REK 2026/12345"},
    )
    purposes = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "consent purposes every delivered participant must have given"},
    )
    questionnaires = fields.List(
        fields.String(validate=validate.Length(min=1, max=32)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "questionnaire keys the project may receive"},
    )
    members = fields.List(
        fields.UUID(),
        load_default=list,
        metadata={"description": "staff user ids of the project's researchers"},
    )
    folder = fields.String(
        validate=FOLDER,
        load_default=None,
        metadata={"description": "its folder in the data store (default: the code)"},
    )
    data_use_codes = fields.List(fields.String(validate=DUO), load_default=list)


class ResearchProjectSchema(ma.Schema):
    code = fields.String(required=True)
    title = fields.String(required=True)
    approval_reference = fields.String(required=True)
    purposes = fields.List(fields.String(), required=True)
    questionnaires = fields.List(fields.String(), required=True)
    members = fields.Function(lambda p: sorted(str(m.staff_user_id) for m in p.members))
    folder = fields.String(required=True)
    data_use_codes = fields.List(fields.String(), required=True)
    created_at = fields.AwareDateTime(required=True)


class ExtractLoadSchema(ma.Schema):
    """Write a delivery: everything the project may have (full) or what changed since its last one."""

    kind = fields.String(validate=validate.OneOf(("full", "since-last")), load_default="full")


class ExtractFileSchema(ma.Schema):
    path = fields.String(required=True)
    bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    href = fields.String(required=True)


class ExtractSchema(ma.Schema):
    """A delivery in the data store, with its files."""

    release = fields.String(required=True)
    kind = fields.String(required=True)
    previous_release = fields.String(allow_none=True)
    consent_snapshot_at = fields.AwareDateTime(required=True)
    created_at = fields.AwareDateTime(required=True)
    rows = fields.Integer(required=True)
    participants = fields.Integer(required=True)
    deletions = fields.Integer(required=True)
    files = fields.List(fields.Nested(ExtractFileSchema), required=True)


class ExtractJobSchema(ma.Schema):
    """A requested delivery: queued, running (with its stage and progress), done (with its release) or
    failed (with the reason)."""

    id = fields.UUID(required=True)
    project = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("queued", "running", "done", "failed")))
    requested_at = fields.AwareDateTime(required=True)
    started_at = fields.AwareDateTime(allow_none=True)
    finished_at = fields.AwareDateTime(allow_none=True)
    attempts = fields.Integer(required=True, metadata={"description": "how many times a worker took it"})
    stage = fields.String(metadata={"description": "running: what it is doing now"})
    progress = fields.Float(metadata={"description": "running: the share done, 0 to 1"})
    release = fields.String(metadata={"description": "done: the delivery written"})
    extracts = fields.String(metadata={"description": "done: where the project's deliveries are listed"})
    failure = fields.String(metadata={"description": "failed: why"})
    href = fields.String(required=True)


class ResearchDeliverySectionSchema(ma.Schema):
    """A research project that received my data, and when."""

    project = fields.String(required=True)
    title = fields.String(required=True)
    approval_reference = fields.String(required=True)
    release = fields.String(required=True)
    delivered_at = fields.AwareDateTime(required=True)
