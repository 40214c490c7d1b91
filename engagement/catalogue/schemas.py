"""Wire shapes of the public catalogue: query arguments and the variable catalogue's answers."""

from __future__ import annotations

import marshmallow as ma

from engagement.catalogue.services import MEDIA_TYPES

MAX_PAGE_SIZE = 100


class CatalogueFormatArgsSchema(ma.Schema):
    """Query: the serialisation, overriding the Accept header."""

    format = ma.fields.String(
        validate=ma.validate.OneOf(list(MEDIA_TYPES)),
        metadata={
            "description": "turtle, jsonld or rdfxml (default: by Accept; Turtle when it does not say)"
        },
    )


class CatalogueVariableSearchArgsSchema(ma.Schema):
    """Query: words to find (every word, in a name or in a question text in nb, nn or en), filters, page."""

    q = ma.fields.String(validate=ma.validate.Length(max=200), metadata={"description": "words or a name"})
    questionnaire = ma.fields.String(validate=ma.validate.Length(max=32))
    version = ma.fields.Integer(validate=ma.validate.Range(min=1), metadata={"description": "asked in it"})
    section = ma.fields.String(validate=ma.validate.Length(max=64))
    scale = ma.fields.String(validate=ma.validate.Length(max=64), metadata={"description": "id or name"})
    type = ma.fields.String(
        validate=ma.validate.Length(max=32),
        metadata={"description": "item type (likert, single_choice, ...) or storage (numeric, string)"},
    )
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    page_size = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE))


class CatalogueVariableArgsSchema(ma.Schema):
    """Query: the questionnaire, when a name belongs to variables of several."""

    questionnaire = ma.fields.String(validate=ma.validate.Length(max=32))


class CatalogueTextsSchema(ma.Schema):
    nb = ma.fields.String(required=True)
    nn = ma.fields.String(required=True)
    en = ma.fields.String(required=True)


class CatalogueCodeSchema(ma.Schema):
    code = ma.fields.Raw(required=True, metadata={"description": "the value stored"})
    label = ma.fields.String(required=True, metadata={"description": "the value label in the extract"})
    text = ma.fields.Nested(
        CatalogueTextsSchema, allow_none=True, metadata={"description": "as the participant saw it"}
    )


class CatalogueMissingCodeSchema(CatalogueCodeSchema):
    kind = ma.fields.String(allow_none=True, metadata={"description": "e.g. dont_remember, dont_know"})


class CatalogueSectionSchema(ma.Schema):
    id = ma.fields.String(required=True)
    title = ma.fields.Nested(CatalogueTextsSchema, required=True)


class CatalogueScaleSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    title = ma.fields.Nested(CatalogueTextsSchema, allow_none=True)
    scoring = ma.fields.String(allow_none=True)
    reference = ma.fields.String(allow_none=True)
    reversed = ma.fields.Boolean(required=True)
    role = ma.fields.String(required=True, metadata={"description": "item or reversed item"})


class CatalogueVariableVersionSchema(ma.Schema):
    version = ma.fields.Integer(required=True)
    version_label = ma.fields.String(required=True)
    variable = ma.fields.String(required=True, metadata={"description": "its name in that version"})
    question = ma.fields.Nested(CatalogueTextsSchema, required=True)


class CatalogueLineageSchema(ma.Schema):
    version = ma.fields.Integer(required=True)
    version_label = ma.fields.String(required=True)
    variable = ma.fields.String(required=True)
    relation = ma.fields.String(
        required=True,
        metadata={
            "description": "asked (under this name), same_as (a later name of the same variable) or "
            "recoded_from (the values of an earlier variable, recoded by `codes`)"
        },
    )
    codes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        allow_none=True,
        metadata={"description": "old -> new"},
    )


class CatalogueVariableSummarySchema(ma.Schema):
    """A variable in a list: enough to tell it apart and find its page."""

    name = ma.fields.String(required=True, metadata={"description": "the harmonised name (its first)"})
    names = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "in any version"})
    questionnaire = ma.fields.String(required=True)
    label = ma.fields.String(required=True)
    question = ma.fields.Nested(CatalogueTextsSchema, required=True)
    item_type = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    section = ma.fields.Function(lambda entry: entry["section"]["id"])
    scale = ma.fields.Function(lambda entry: entry["scale"]["id"] if entry["scale"] else None)
    versions = ma.fields.Function(lambda entry: [v["version_label"] for v in entry["versions"]])
    href = ma.fields.Function(
        lambda entry: f"/catalog/variables/{entry['name']}?questionnaire={entry['questionnaire']}"
    )


class CatalogueVariablePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CatalogueVariableSummarySchema), required=True)
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)
    pages = ma.fields.Integer(required=True)


class CatalogueVariableSchema(ma.Schema):
    """One variable: texts, codes, missing codes, condition, scale, lineage and the versions holding it."""

    name = ma.fields.String(required=True)
    names = ma.fields.List(ma.fields.String(), required=True)
    questionnaire = ma.fields.String(required=True)
    questionnaire_title = ma.fields.Nested(CatalogueTextsSchema, required=True)
    label = ma.fields.String(required=True)
    question = ma.fields.Nested(
        CatalogueTextsSchema, required=True, metadata={"description": "in the newest version"}
    )
    item = ma.fields.String(required=True)
    item_type = ma.fields.String(required=True)
    type = ma.fields.String(required=True, metadata={"description": "numeric or string"})
    measure = ma.fields.String(required=True, metadata={"description": "nominal, ordinal or scale"})
    role = ma.fields.String(required=True)
    codes = ma.fields.List(ma.fields.Nested(CatalogueCodeSchema), required=True)
    missing = ma.fields.List(ma.fields.Nested(CatalogueMissingCodeSchema), required=True)
    condition = ma.fields.String(allow_none=True, metadata={"description": "when the question is shown"})
    enable_when = ma.fields.List(ma.fields.Dict(), required=True)
    section = ma.fields.Nested(CatalogueSectionSchema, required=True)
    scale = ma.fields.Nested(CatalogueScaleSchema, allow_none=True)
    versions = ma.fields.List(ma.fields.Nested(CatalogueVariableVersionSchema), required=True)
    lineage = ma.fields.List(ma.fields.Nested(CatalogueLineageSchema), required=True)
