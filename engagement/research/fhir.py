"""A questionnaire version as a FHIR R4 ``Questionnaire`` resource (pure; shipped with every delivery).

- Texts in Bokmål, with Nynorsk and English through the standard ``translation`` extension.
- Codings carry a ``system`` per questionnaire and item (``urn:moba-engagement:CodeSystem:<key>:<item>``:
  code 1 means something else in each item), their codes as in the extract.
- ``minValue``/``maxValue`` and ``questionnaire-unit`` (UCUM where the unit has a code) from the
  definition; a number or date item's special answers (don't know, don't remember, ...) are the
  options of a ``choice`` item nested under it, so a participant can give one instead of a value; such
  an item is not ``required``, since the special answer is also an answer.
- Conditions are the ones FHIR defines: a condition ordering the codes of a choice item (``>``, ``>=``,
  ``<``, ``<=``) becomes the codes that satisfy it by the server's own rule
  (``answers.condition_holds``), as ``=`` with ``enableBehavior: any`` (or ``!=`` for the codes
  that do not, where every condition must hold).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef

BASE_URL = "urn:moba-engagement:Questionnaire"
CODE_SYSTEM = "urn:moba-engagement:CodeSystem"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
UCUM = "http://unitsofmeasure.org"
# The units the questionnaires use, as UCUM codes (others are given as text only).
_UCUM = {"cm": "cm", "kg": "kg", "år": "a", "mnd": "mo", "timer": "h", "min": "min"}
_TYPES = {
    "single_choice": "choice",
    "likert": "choice",
    "multiple_choice": "choice",
    "integer": "integer",
    "decimal": "decimal",
    "year_month": "date",  # FHIR dates may be partial (YYYY-MM)
    "date": "date",
    "time": "time",
    "yes_no": "boolean",
    "text": "text",
}
_ANSWER_KEYS = {
    "integer": "answerInteger",
    "decimal": "answerDecimal",
    "year_month": "answerDate",
    "date": "answerDate",
    "time": "answerTime",
    "yes_no": "answerBoolean",
    "text": "answerString",
}
_VALUE_KEYS = {
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "year_month": "valueDate",
    "date": "valueDate",
}
_ORDERING = frozenset({">", ">=", "<", "<="})


def file_name(definition: Mapping[str, Any]) -> str:
    """Named after the version as the data files and the version column name it (e.g. ``UNG18_A``)."""
    return f"questionnaires/{definition['version_label']}.json"


def code_system(definition: Mapping[str, Any], item: str) -> str:
    """The system of an item's codings: its codes are the ones of its variable in the extract."""
    return f"{CODE_SYSTEM}:{definition['key']}:{item}"


def _translated(text: Mapping[str, str]) -> dict[str, Any]:
    """The ``_text`` (or ``_display``, ``_title``) element holding the Nynorsk and English texts."""
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": language},
                    {"url": "content", "valueString": text[language]},
                ],
            }
            for language in qdef.LANGUAGES
            if language != "nb" and text.get(language)
        ]
    }


def questionnaire(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The FHIR R4 Questionnaire of one published version (Bokmål texts with translations; codes as in
    the extract)."""
    key, version = definition["key"], definition["version"]
    items = qdef.items_by_name(definition)
    return {
        "resourceType": "Questionnaire",
        "id": f"{key}-v{version}",
        "url": f"{BASE_URL}/{key}",
        "version": str(version),
        "name": str(definition["version_label"]),
        "title": definition["title"]["nb"],
        "_title": _translated(definition["title"]),
        "status": "active",
        "language": "nb",
        "item": [
            {
                "linkId": section["id"],
                "type": "group",
                "text": section["title"]["nb"],
                "_text": _translated(section["title"]),
                "item": [_item(definition, item, items) for item in section["items"]],
            }
            for section in definition["sections"]
        ],
    }


def _coding(definition: Mapping[str, Any], item: str, option: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "valueCoding": {
            "system": code_system(definition, item),
            "code": str(option["code"]),
            "display": option["text"]["nb"],
            "_display": _translated(option["text"]),
        }
    }


def _item(
    definition: Mapping[str, Any], item: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    kind, name = item["type"], item["name"]
    special = item.get("special_answers", [])
    entry: dict[str, Any] = {
        "linkId": name,
        "text": item["text"]["nb"],
        "_text": _translated(item["text"]),
        "type": _TYPES[kind],
        "required": bool(item.get("required")) and not special,
    }
    extensions = []
    for bound, url in (("min", MIN_VALUE), ("max", MAX_VALUE)):
        if bound in item and kind in _VALUE_KEYS:
            extensions.append({"url": url, _VALUE_KEYS[kind]: item[bound]})
    if "unit" in item:
        unit = {"display": item["unit"]}
        if item["unit"] in _UCUM:
            unit = {"system": UCUM, "code": _UCUM[item["unit"]], "display": item["unit"]}
        extensions.append({"url": UNIT, "valueCoding": unit})
    if extensions:
        entry["extension"] = extensions
    if kind == "multiple_choice":
        entry["repeats"] = True
    if kind in qdef.CHOICE_TYPES:
        entry["answerOption"] = [_coding(definition, name, o) for o in item.get("options", [])]
    if kind == "text" and "max_length" in item:
        entry["maxLength"] = item["max_length"]
    if item.get("enable_when"):
        conditions, behaviour = _conditions(definition, item, items)
        entry["enableWhen"] = conditions
        if len(conditions) > 1:
            entry["enableBehavior"] = behaviour
    if special:
        entry["item"] = [
            {
                "linkId": f"{name}.special",
                "text": "Eller",
                "_text": _translated({"nb": "Eller", "nn": "Eller", "en": "Or"}),
                "type": "choice",
                "required": False,
                "answerOption": [_coding(definition, name, s) for s in special],
            }
        ]
    return entry


def _conditions(
    definition: Mapping[str, Any], item: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], str]:
    """The item's ``enable_when`` as FHIR ``enableWhen`` entries and their ``enableBehavior``."""
    behaviour = item.get("enable_behavior", "all")
    conditions = item["enable_when"]
    result: list[dict[str, Any]] = []
    for condition in conditions:
        target = items[condition["item"]]
        if condition["operator"] not in _ORDERING or target["type"] not in qdef.CHOICE_TYPES:
            result.append(_condition(definition, condition, target))
            continue
        codes = [o["code"] for o in target.get("options", [])]
        holds = [c for c in codes if qanswers.condition_holds(condition, target, {target["name"]: c})]
        if len(conditions) == 1 or behaviour == "any":
            chosen, operator = holds, "="
            behaviour = "any"
        else:  # every condition must hold: this one holds where the code is none of the others
            chosen, operator = [c for c in codes if c not in holds], "!="
        for code in chosen:
            result.append(_condition(definition, {**condition, "operator": operator, "answer": code}, target))
    return result, behaviour


def _condition(
    definition: Mapping[str, Any], condition: Mapping[str, Any], target: Mapping[str, Any]
) -> dict[str, Any]:
    answer = condition["answer"]
    result: dict[str, Any] = {"question": condition["item"], "operator": condition["operator"]}
    if condition["operator"] == "exists":
        result["answerBoolean"] = bool(answer)
    elif target["type"] in qdef.CHOICE_TYPES:
        result["answerCoding"] = {"system": code_system(definition, target["name"]), "code": str(answer)}
    else:
        result[_ANSWER_KEYS[target["type"]]] = answer
    return result
