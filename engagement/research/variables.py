"""From a questionnaire definition to the variables of an extract, per version and harmonised.

Pure (no Flask, no database). A version's table has the project's key, the version column, the age
at submission, then one variable per export variable of every exported item (multiple choice: one 0/1
variable per option), in the order of the questionnaire. Year-month and date answers become ages
(months and days after birth), never dates; free text only when the item is marked exportable.

Harmonised across versions, a variable keeps the name it had first: ``same_as`` puts a later
version's answers into the earlier variable, and ``recoded_from`` fills the new variable for rows of
earlier versions by the declared code map (codes without a mapping stay missing).

Missing values: every special answer and every option with a ``kind`` (don't know, prefer not to say,
don't remember, not applicable) is a declared missing code of its variable, and so are the two reasons
a cell can be empty besides "not answered" (system missing, blank): ``NOT_SHOWN`` where the item has a
condition, ``NOT_IN_VERSION`` in the harmonised table where a version did not ask it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from engagement.questionnaires import definition as qdef
from engagement.questionnaires.definition import truncate_utf8
from engagement.research.dataset import Code, Measure, Scale, Variable

ValueKind = Literal["number", "text", "age_months", "age_days"]
LABEL_BYTES = 255
KEY_LABEL = "Prosjektspesifikt løpenummer"
VERSION_LABEL = "Skjemaversjon"
AGE_LABEL = "Alder i år ved utfylling av skjema"

# Why a cell is empty, when it is not "not answered" (that one stays system missing: blank).
NOT_SHOWN = -2  # the item was not shown: its condition (enable_when) was false for the answers given
NOT_IN_VERSION = -4  # the questionnaire version answered did not ask it (harmonised table only)
REASON_LABELS: dict[int, str] = {NOT_SHOWN: "IKKE VIST (FILTER)", NOT_IN_VERSION: "IKKE I DENNE VERSJONEN"}


def key_name(project_code: str) -> str:
    return f"UNG_ID_{project_code}"


def version_column_name(key: str) -> str:
    return f"VERSJON_{key.upper()}_TBL1"


def age_column_name(definition: Mapping[str, Any]) -> str:
    return f"AGE_YRS_{definition['variable_prefix']}"


def dataset_name(key: str, version_label: str | None) -> str:
    """A version's table is named as its version column names the version (e.g. ``UNG18_A``), in its
    files, the codebooks and the manifest alike; the harmonised table ``<KEY>_harmonised``."""
    return str(version_label) if version_label is not None else f"{key.upper()}_harmonised"


@dataclass(frozen=True)
class Column:
    """An item variable of one version: where its values come from (``Answer.variable``) and how."""

    variable: Variable
    kind: ValueKind
    item: str


_MEASURES: dict[str, Measure] = {
    "likert": "ordinal",
    "integer": "scale",
    "decimal": "scale",
    "time": "scale",
    "year_month": "scale",
    "date": "scale",
}


def _kind(item: Mapping[str, Any]) -> ValueKind:
    kind = item["type"]
    if kind == "year_month":
        return "age_months"
    if kind == "date":
        return "age_days"
    if kind == "text":
        return "text"
    return "number"


def _condition(item: Mapping[str, Any]) -> str:
    parts = [f"{c['item']} {c['operator']} {c['answer']}" for c in item.get("enable_when", [])]
    joiner = " AND " if item.get("enable_behavior", "all") == "all" else " OR "
    return joiner.join(parts)


def _labels(item: Mapping[str, Any]) -> dict[Code, str]:
    labels: dict[Code, str] = {}
    if item["type"] == "text":
        return labels
    if item["type"] in ("year_month", "date", "time"):
        labels.update({s["code"]: s["label"] for s in item.get("special_answers", [])})
    else:
        for code, text in qdef.value_labels(item).items():
            labels[code] = text
    if item.get("enable_when"):
        labels[NOT_SHOWN] = REASON_LABELS[NOT_SHOWN]
    return labels


def missing_codes(item: Mapping[str, Any]) -> tuple[int, ...]:
    """The declared missing codes of an item's variable: its special answers and the options with a
    ``kind``, in questionnaire order, then ``NOT_SHOWN`` if a condition can hide it."""
    if item["type"] in ("multiple_choice", "yes_no", "text"):
        special: list[int] = []
    else:
        special = [o["code"] for o in item.get("options", []) if o.get("kind")]
        special += [s["code"] for s in item.get("special_answers", [])]
    if item.get("enable_when"):
        special.append(NOT_SHOWN)
    return tuple(dict.fromkeys(special))


def item_columns(definition: Mapping[str, Any]) -> list[Column]:
    """The item variables of one version, in questionnaire order (only exported items)."""
    version_label = definition["version_label"]
    scales = definition.get("scales", {})
    columns: list[Column] = []
    for section in definition["sections"]:
        section_title = section["title"]["nb"]
        for item in section["items"]:
            if not item.get("exported", item["type"] != "text"):
                continue
            scale = None
            if "scale" in item:
                meta = scales.get(item["scale"]["id"], {})
                scale = Scale(
                    meta.get("name", item["scale"]["id"]),
                    reversed=bool(item["scale"].get("reversed")),
                    scoring=str(meta.get("scoring", "")),
                    reference=str(meta.get("reference", "")),
                )
            options = item.get("options", []) if item["type"] == "multiple_choice" else [None]
            for option in options:
                name = option["variable"] if option else item["name"]
                stem = qdef.variable_label(item, option)
                question = item["text"]["nb"] + (f" — {option['text']['nb']}" if option else "")
                variable = Variable(
                    name,
                    truncate_utf8(f"{name}:{version_label}; {stem}", LABEL_BYTES),
                    type="string" if item["type"] == "text" else "numeric",
                    measure=_MEASURES.get(item["type"], "nominal"),
                    value_labels=_labels(item),
                    missing_codes=missing_codes(item) if item["type"] != "text" else (),
                    question=question,
                    source=f"{definition['key']}|{definition['version']}#{item['name']}",
                    versions=(version_label,),
                    condition=_condition(item),
                    section=section_title,
                    scale=scale,
                )
                columns.append(Column(variable, _kind(item), item["name"]))
    return columns


def fixed_variables(definition: Mapping[str, Any], project_code: str) -> list[Variable]:
    """Key, version column and age at submission (the first three variables of every table)."""
    return [
        Variable(key_name(project_code), KEY_LABEL, role="key"),
        Variable(version_column_name(definition["key"]), VERSION_LABEL, type="string", role="version"),
        Variable(age_column_name(definition), AGE_LABEL, measure="scale", role="derived"),
    ]


@dataclass
class Source:
    """Where a harmonised variable's values come from in one version (``codes``: a recode map)."""

    version: int
    column: str
    codes: dict[int, int] | None = None


@dataclass
class Harmonised:
    variable: Variable
    sources: list[Source] = field(default_factory=list)


def harmonise(definitions: Sequence[Mapping[str, Any]]) -> list[Harmonised]:
    """The variables of one questionnaire across ``definitions`` (oldest first), with their sources."""
    targets: dict[str, Harmonised] = {}
    order: list[str] = []
    where: dict[tuple[int, str], str] = {}  # (version, column in that version) -> harmonised name
    seen_by_version: dict[int, list[Column]] = {}
    for definition in definitions:
        version = definition["version"]
        items = qdef.items_by_name(definition)
        earlier_items: dict[str, dict[str, Any]] = {}
        for earlier in definitions:
            if earlier["version"] < version:
                earlier_items.update(qdef.items_by_name(earlier))
        columns = item_columns(definition)
        seen_by_version[version] = columns
        for column in columns:
            item = items[column.item]
            target = _target(column, item, earlier_items, where, version, definitions)
            where[(version, column.variable.name)] = target
            if target not in targets:
                targets[target] = Harmonised(column.variable)
                order.append(target)
            entry = targets[target]
            entry.sources.append(Source(version, column.variable.name))
            entry.variable = column.variable  # the newest wording and codes describe the variable
            if "recoded_from" in item and target == column.variable.name:
                recode = item["recoded_from"]
                codes = {int(k): int(v) for k, v in recode["codes"].items()}
                for older, older_columns in seen_by_version.items():
                    if older < version and any(c.variable.name == recode["variable"] for c in older_columns):
                        entry.sources.insert(0, Source(older, recode["variable"], codes))
    result = []
    labels = [str(d["version_label"]) for d in definitions]
    for name in _newest_order(order, [where[(definitions[-1]["version"], c.variable.name)] for c in columns]):
        entry = targets[name]
        own = entry.variable.label
        stem = own.split("; ", 1)[1] if "; " in own else own
        lineage = "; ".join(
            f"{_version_label(definitions, s.version)}:{s.column}"
            + (f" recoded {','.join(f'{a}->{b}' for a, b in s.codes.items())}" if s.codes else "")
            for s in entry.sources
        )
        versions = tuple(dict.fromkeys(_version_label(definitions, s.version) for s in entry.sources))
        value_labels: dict[Code, str] = {}
        missing: list[Code] = []
        for source in reversed(entry.sources):  # the newest version's codes and labels first
            asked = next(c for c in seen_by_version[source.version] if c.variable.name == source.column)
            if source.codes is not None:  # recoded into the newer codes: only its reasons reach the table
                for code in asked.variable.missing_codes:
                    if code in REASON_LABELS:
                        value_labels.setdefault(code, REASON_LABELS[int(code)])
                        missing.append(code)
                continue
            for code, text in asked.variable.value_labels.items():
                value_labels.setdefault(code, text)
            missing.extend(asked.variable.missing_codes)
        if any(label not in versions for label in labels):
            value_labels[NOT_IN_VERSION] = REASON_LABELS[NOT_IN_VERSION]
            missing.append(NOT_IN_VERSION)
        wording = {
            _version_label(definitions, s.version): _question(seen_by_version[s.version], s.column)
            for s in entry.sources
        }
        variable = Variable(
            name,
            truncate_utf8(stem, LABEL_BYTES),
            type=entry.variable.type,
            measure=entry.variable.measure,
            value_labels=dict(
                sorted(value_labels.items(), key=lambda item: (float(item[0]) < 0, float(item[0])))
            ),
            missing_codes=tuple(dict.fromkeys(missing)) if entry.variable.type != "string" else (),
            question=entry.variable.question,
            wording=wording if len(set(wording.values())) > 1 else {},
            source=lineage,
            versions=versions,
            condition=entry.variable.condition,
            section=entry.variable.section,
            scale=entry.variable.scale,
        )
        result.append(Harmonised(variable, entry.sources))
    return result


def _newest_order(first_seen: Sequence[str], newest: Sequence[str]) -> list[str]:
    """The newest version's variable order; a variable it no longer asks follows the variable it
    followed when it was first seen (or leads, if it came first)."""
    order = list(dict.fromkeys(newest))
    for position, name in enumerate(first_seen):
        if name in order:
            continue
        before = next((n for n in reversed(first_seen[:position]) if n in order), None)
        order.insert(order.index(before) + 1 if before is not None else 0, name)
    return order


def _question(columns: Sequence[Column], name: str) -> str:
    return next(c.variable.question for c in columns if c.variable.name == name)


def _version_label(definitions: Sequence[Mapping[str, Any]], version: int) -> str:
    for definition in definitions:
        if definition["version"] == version:
            return str(definition["version_label"])
    return str(version)


def _target(
    column: Column,
    item: Mapping[str, Any],
    earlier_items: Mapping[str, Mapping[str, Any]],
    where: Mapping[tuple[int, str], str],
    version: int,
    definitions: Sequence[Mapping[str, Any]],
) -> str:
    """The harmonised name of a version's column: its own, or (``same_as``) the earlier variable's."""
    same_as = item.get("same_as")
    if not same_as or same_as not in earlier_items:
        return column.variable.name
    old = earlier_items[same_as]
    if item["type"] == "multiple_choice":
        code = next(o["code"] for o in item["options"] if o["variable"] == column.variable.name)
        match = [o["variable"] for o in old.get("options", []) if o["code"] == code]
        if not match:
            return column.variable.name
        old_name = str(match[0])
    else:
        old_name = str(same_as)
    for earlier in sorted((d["version"] for d in definitions if d["version"] < version), reverse=True):
        if (earlier, old_name) in where:
            return where[(earlier, old_name)]
    return old_name
