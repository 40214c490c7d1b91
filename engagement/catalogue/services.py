"""The public catalogue: dataset descriptions (DCAT-AP-NO), the variable catalogue, codebooks.

Everything here is public and describes published questionnaire versions; the only facts about
people are counts, rounded and never shown below a threshold (:func:`disclosed`).

Built things are kept per process, keyed by the set of published versions (key, version, content
hash), so a warm request costs one small query: the variable catalogue and the documents of a
version never change; the dataset graph holds counts, so it is rebuilt at most every
``CATALOG_MAX_AGE`` seconds (the time a harvester may cache it anyway).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from flask import current_app
from rdflib import Graph

from engagement.catalogue import dcat, documents
from engagement.extensions import db
from engagement.participants.services import ADULT_AGE
from engagement.problems import Conflict, DomainError, NotFound
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import QuestionnaireVersion, Response
from engagement.research import variables as rv

RdfFormat = Literal["turtle", "jsonld", "rdfxml"]
MEDIA_TYPES: dict[RdfFormat, str] = {
    "turtle": "text/turtle",
    "jsonld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
}
_RDFLIB_FORMATS: dict[RdfFormat, str] = {"turtle": "turtle", "jsonld": "json-ld", "rdfxml": "pretty-xml"}
LANGUAGES = qdef.LANGUAGES
KEEP_BUILDS = 128  # built things kept per process: graphs, variable lists, documents of versions


class NotAcceptable(DomainError):
    status, slug, title = 406, "not-acceptable", "None of the accepted media types can be served"


class VariableNotFound(NotFound):
    slug, title = "catalogue-variable-not-found", "No such variable in the catalogue"


class VariableAmbiguous(Conflict):
    slug, title = "catalogue-variable-ambiguous", "The name belongs to variables of several questionnaires"


# ---------------------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Document:
    """A served body with its strong ETag (a hash of the bytes)."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Document:
        return cls(body, hashlib.sha256(body).hexdigest())


@dataclass(frozen=True)
class Published:
    id: Any
    key: str
    version: int
    content_hash: str


def published() -> list[Published]:
    """The published versions, without their definitions (the one query of a warm request)."""
    rows = db.session.execute(
        sa.select(
            QuestionnaireVersion.id,
            QuestionnaireVersion.key,
            QuestionnaireVersion.version,
            QuestionnaireVersion.content_hash,
        ).order_by(QuestionnaireVersion.key, QuestionnaireVersion.version)
    )
    return [Published(*row) for row in rows]


def fingerprint(versions: Iterable[Published]) -> str:
    text = "\n".join(f"{v.id}:{v.key}:{v.version}:{v.content_hash}" for v in versions)
    return hashlib.sha256(text.encode()).hexdigest()


T = TypeVar("T")


@dataclass
class _Builds:
    """What has been built in this process, per set of published versions (least recently used out)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: OrderedDict[tuple[str, ...], tuple[float, Any]] = field(default_factory=OrderedDict)

    def get(self, key: tuple[str, ...], build: Callable[[], T], max_age: float | None = None) -> T:
        with self.lock:
            found = self.entries.get(key)
            if found is not None and (max_age is None or time.monotonic() - found[0] < max_age):
                self.entries.move_to_end(key)
                return found[1]  # type: ignore[no-any-return]
            value = build()
            self.entries[key] = (time.monotonic(), value)
            self.entries.move_to_end(key)
            while len(self.entries) > KEEP_BUILDS:
                self.entries.popitem(last=False)
            return value


def _builds() -> _Builds:
    builds: _Builds = current_app.extensions.setdefault("engagement.catalogue", _Builds())
    return builds


def _definitions(versions: Sequence[Published]) -> list[tuple[QuestionnaireVersion, dict[str, Any]]]:
    ids = [v.id for v in versions]
    rows = db.session.scalars(
        sa.select(QuestionnaireVersion)
        .where(QuestionnaireVersion.id.in_(ids))
        .order_by(QuestionnaireVersion.key, QuestionnaireVersion.version)
    )
    return [(row, questionnaires.definition_of(row)) for row in rows]


# ------------------------------------------------------------------------------------------ counts


def disclosed(count: int, threshold: int, rounding: int) -> int | None:
    """``count`` rounded to the nearest ``rounding`` (halves up), or None below ``threshold``."""
    if count < max(threshold, 1):
        return None
    step = max(rounding, 1)
    return max(step, (count + step // 2) // step * step)


def version_counts(threshold: int, rounding: int) -> dict[Any, dcat.Counts]:
    """Per version id: respondents and responses (disclosed), and the first and last day answered
    (only where the respondents are shown: a lone respondent's day would point at them)."""
    rows = db.session.execute(
        sa.select(
            Response.questionnaire_version_id,
            sa.func.count(sa.distinct(Response.participant_id)),
            sa.func.count(),
            sa.func.min(Response.submitted_at),
            sa.func.max(Response.submitted_at),
        ).group_by(Response.questionnaire_version_id)
    )
    counts: dict[Any, dcat.Counts] = {}
    for version_id, people, responses, first, last in rows:
        shown = disclosed(people, threshold, rounding)
        counts[version_id] = dcat.Counts(
            respondents=shown,
            responses=disclosed(responses, threshold, rounding) if shown is not None else None,
            first_answer=_day(first) if shown is not None else None,
            last_answer=_day(last) if shown is not None else None,
        )
    return counts


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


# ------------------------------------------------------------------------------------ the DCAT graph


def publisher() -> dcat.Publisher:
    config = current_app.config
    return dcat.Publisher(
        base_url=config["PUBLIC_URL"],
        organisation_number=config["CATALOG_PUBLISHER_ORGNR"],
        name=config["CATALOG_PUBLISHER_NAME"],
        contact_email=config["CATALOG_CONTACT_EMAIL"],
        access_url=config["CATALOG_ACCESS_URL"],
        hdab_organisation_number=config["CATALOG_HDAB_ORGNR"],
        hdab_name=config["CATALOG_HDAB_NAME"],
        legal_basis_url=config["CATALOG_LEGAL_BASIS_URL"],
        min_age=ADULT_AGE,
    )


@dataclass
class _Catalogue:
    graph: Graph
    documents: dict[RdfFormat, Document] = field(default_factory=dict)


def build_graph(versions: Sequence[Published]) -> Graph:
    """The DCAT-AP-NO graph of ``versions``, with their disclosed counts as of now."""
    config = current_app.config
    counts = version_counts(config["CATALOG_COUNT_THRESHOLD"], config["CATALOG_COUNT_ROUNDING"])
    members = [
        dcat.PublishedVersion(
            definition=definition,
            published_at=row.published_at,
            counts=counts.get(row.id, dcat.Counts()),
            variables=len(documents.codebook_variables(definition)),
        )
        for row, definition in _definitions(versions)
    ]
    return dcat.build(publisher(), members)


def catalogue(rdf_format: RdfFormat) -> Document:
    """The catalogue serialised as ``rdf_format``, built at most once per ``CATALOG_MAX_AGE`` per set
    of published versions (and serialised once per format)."""
    versions = published()
    builds = _builds()
    entry: _Catalogue = builds.get(
        ("graph", fingerprint(versions)),
        lambda: _Catalogue(build_graph(versions)),
        max_age=current_app.config["CATALOG_MAX_AGE"],
    )
    with builds.lock:
        document = entry.documents.get(rdf_format)
        if document is None:
            body = entry.graph.serialize(format=_RDFLIB_FORMATS[rdf_format], encoding="utf-8")
            document = entry.documents[rdf_format] = Document.of(body)
    return document


# --------------------------------------------------------------------------------- version documents


def _version_document(
    key: str, version: int, kind: str, make: Callable[[QuestionnaireVersion], bytes]
) -> Document:
    row = questionnaires.get_version(key, version)
    return _builds().get(("document", kind, str(row.id), row.content_hash), lambda: Document.of(make(row)))


def codebook(key: str, version: int) -> Document:
    """The DDI codebook of a published version (the extracts' writer, no data)."""
    return _version_document(
        key,
        version,
        "codebook",
        lambda row: documents.codebook_xml(questionnaires.definition_of(row), row.published_at),
    )


def fhir_questionnaire(key: str, version: int) -> Document:
    """The FHIR Questionnaire of a published version."""
    return _version_document(
        key, version, "fhir", lambda row: documents.questionnaire_json(questionnaires.definition_of(row))
    )


# ------------------------------------------------------------------------------ the variable catalogue


def variables() -> list[dict[str, Any]]:
    """Every variable of every published questionnaire, harmonised across its versions, with lineage."""
    versions = published()
    return _builds().get(("variables", fingerprint(versions)), lambda: _variables(versions))


def _variables(versions: Sequence[Published]) -> list[dict[str, Any]]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for _row, definition in _definitions(versions):
        by_key.setdefault(definition["key"], []).append(definition)
    entries: list[dict[str, Any]] = []
    for _key, definitions in sorted(by_key.items()):
        definitions.sort(key=lambda d: d["version"])
        entries.extend(questionnaire_variables(definitions))
    for entry in entries:
        entry["_search"] = _haystack(entry)
    return entries


def _in_language(node: Any, lang: str) -> Any:
    """``node`` with every {nb, nn, en} text showing its ``lang`` text under each language, so that the
    extracts' own rules (which read the Bokmål text) compose the question and section in ``lang``."""
    if isinstance(node, dict):
        if set(node) == set(LANGUAGES):
            return dict.fromkeys(LANGUAGES, node[lang])
        return {k: _in_language(v, lang) for k, v in node.items()}
    if isinstance(node, list):
        return [_in_language(v, lang) for v in node]
    return node


def questionnaire_variables(definitions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The catalogue entries of one questionnaire's variables, from its versions (oldest first)."""
    key = definitions[0]["key"]
    by_version = {d["version"]: d for d in definitions}
    columns: dict[int, dict[str, dict[str, rv.Column]]] = {}
    for definition in definitions:
        columns[definition["version"]] = {
            lang: {c.variable.name: c for c in rv.item_columns(_in_language(definition, lang))}
            for lang in LANGUAGES
        }
    entries = []
    for harmonised in rv.harmonise(definitions):
        variable = harmonised.variable
        asked = [s for s in harmonised.sources if s.codes is None]
        newest = asked[-1] if asked else harmonised.sources[-1]
        definition = by_version[newest.version]
        localised = {lang: columns[newest.version][lang][newest.column] for lang in LANGUAGES}
        item = qdef.items_by_name(definition)[localised["nb"].item]
        section = next(
            s for s in definition["sections"] if any(i["name"] == item["name"] for i in s["items"])
        )
        entries.append(
            {
                "name": variable.name,
                "names": sorted({s.column for s in harmonised.sources}),
                "questionnaire": key,
                "questionnaire_title": definition["title"],
                "label": variable.label,
                "question": {lang: localised[lang].variable.question for lang in LANGUAGES},
                "item": item["name"],
                "item_type": item["type"],
                "type": variable.type,
                "measure": variable.measure,
                "role": variable.role,
                "codes": _codes(variable, item, localised["nb"].variable.name),
                "missing": _missing(variable, item),
                "condition": variable.condition or None,
                "enable_when": item.get("enable_when", []),
                "section": {"id": section["id"], "title": section["title"]},
                "scale": _scale(item, definition),
                "versions": [
                    {
                        "version": s.version,
                        "version_label": by_version[s.version]["version_label"],
                        "variable": s.column,
                        "question": {
                            lang: columns[s.version][lang][s.column].variable.question for lang in LANGUAGES
                        },
                    }
                    for s in asked
                ],
                "lineage": [_lineage(s, variable.name, by_version) for s in harmonised.sources],
            }
        )
    return entries


def _codes(variable: Any, item: Mapping[str, Any], column: str) -> list[dict[str, Any]]:
    missing = {s["code"] for s in item.get("special_answers", [])} | set(variable.missing_codes)
    texts: dict[Any, Any] = {}
    if item["type"] in ("single_choice", "likert"):
        texts = {o["code"]: o.get("text") for o in item.get("options", [])}
    elif item["type"] == "multiple_choice":
        option = next(o for o in item["options"] if o["variable"] == column)
        texts = {1: option.get("text")}
    return [
        {"code": code, "label": label, "text": texts.get(code)}
        for code, label in sorted(variable.value_labels.items(), key=lambda pair: str(pair[0]))
        if code not in missing
    ]


def _missing(variable: Any, item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Declared missing codes: the item's special answers, then any code the extract declares missing."""
    found = [
        {"code": s["code"], "label": s["label"], "kind": s.get("kind"), "text": s.get("text")}
        for s in item.get("special_answers", [])
    ]
    seen = {entry["code"] for entry in found}
    for code in variable.missing_codes:
        if code not in seen:
            kind = _REASON_KINDS.get(code)
            found.append(
                {
                    "code": code,
                    "label": variable.value_labels.get(code, ""),
                    "kind": kind,
                    "text": _REASON_TEXTS.get(code),
                }
            )
    return found


# Why a cell is empty when it is not "not answered": declared missing codes every delivery uses.
_REASON_KINDS = {rv.NOT_SHOWN: "not_shown", rv.NOT_IN_VERSION: "not_in_version"}
_REASON_TEXTS = {
    rv.NOT_SHOWN: {
        "nb": "Ikke vist: vilkåret for spørsmålet var ikke oppfylt",
        "nn": "Ikkje vist: vilkåret for spørsmålet var ikkje oppfylt",
        "en": "Not shown: the question's condition was not met",
    },
    rv.NOT_IN_VERSION: {
        "nb": "Ikke med i denne versjonen av skjemaet",
        "nn": "Ikkje med i denne versjonen av skjemaet",
        "en": "Not in this version of the questionnaire",
    },
}


def _scale(item: Mapping[str, Any], definition: Mapping[str, Any]) -> dict[str, Any] | None:
    if "scale" not in item:
        return None
    scale_id = item["scale"]["id"]
    meta = definition.get("scales", {}).get(scale_id, {})
    reversed_ = bool(item["scale"].get("reversed"))
    return {
        "id": scale_id,
        "name": meta.get("name", scale_id),
        "title": meta.get("title"),
        "scoring": meta.get("scoring"),
        "reference": meta.get("reference"),
        "reversed": reversed_,
        "role": "reversed item" if reversed_ else "item",
    }


def _lineage(source: rv.Source, name: str, by_version: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    label = by_version[source.version]["version_label"]
    if source.codes is not None:
        relation, codes = "recoded_from", {str(k): v for k, v in source.codes.items()}
    else:
        relation, codes = ("same_as" if source.column != name else "asked"), None
    return {
        "version": source.version,
        "version_label": label,
        "variable": source.column,
        "relation": relation,
        "codes": codes,
    }


def _haystack(entry: Mapping[str, Any]) -> str:
    texts = [*entry["names"], entry["label"]]
    texts += [text for version in entry["versions"] for text in version["question"].values()]
    return " ".join(texts).casefold()


def search(
    entries: Sequence[Mapping[str, Any]],
    *,
    q: str | None = None,
    questionnaire: str | None = None,
    version: int | None = None,
    section: str | None = None,
    scale: str | None = None,
    type_: str | None = None,
) -> list[Mapping[str, Any]]:
    """The entries whose names or texts (nb, nn, en) hold every word of ``q``, and that pass the filters."""
    words = (q or "").casefold().split()
    found = []
    for entry in entries:
        if words and not all(word in entry["_search"] for word in words):
            continue
        if questionnaire and entry["questionnaire"] != questionnaire:
            continue
        if version is not None and all(v["version"] != version for v in entry["versions"]):
            continue
        if section and entry["section"]["id"] != section:
            continue
        if scale and (
            entry["scale"] is None
            or scale.casefold() not in (entry["scale"]["id"].casefold(), entry["scale"]["name"].casefold())
        ):
            continue
        if type_ and type_ not in (entry["item_type"], entry["type"]):
            continue
        found.append(entry)
    return found


def variable(name: str, questionnaire: str | None = None) -> Mapping[str, Any]:
    """The catalogue entry of the variable called ``name`` in any version (a renamed one under either name)."""
    matches = [
        entry
        for entry in variables()
        if name in entry["names"] and (questionnaire is None or entry["questionnaire"] == questionnaire)
    ]
    if not matches:
        raise VariableNotFound(f"No published questionnaire has a variable {name!r}.")
    exact = [entry for entry in matches if entry["name"] == name]
    if len(exact) == 1:
        return exact[0]
    if len(matches) > 1:
        keys = sorted({entry["questionnaire"] for entry in matches})
        raise VariableAmbiguous(
            f"{name!r} names variables of {', '.join(keys)}; add ?questionnaire= to choose one.",
            questionnaires=keys,
        )
    return matches[0]
