"""A questionnaire version as a FHIR R4 ``Questionnaire`` resource (pure; shipped with every delivery)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engagement.questionnaires import definition as qdef

BASE_URL = "urn:moba-engagement:Questionnaire"
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


def file_name(definition: Mapping[str, Any]) -> str:
    return f"questionnaires/{definition['key']}-v{definition['version']}.json"


def questionnaire(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The FHIR R4 Questionnaire of one published version (Bokmål texts; codes as in the extract)."""
    key, version = definition["key"], definition["version"]
    items = qdef.items_by_name(definition)
    return {
        "resourceType": "Questionnaire",
        "id": f"{key}-v{version}",
        "url": f"{BASE_URL}/{key}",
        "version": str(version),
        "name": str(definition["version_label"]),
        "title": definition["title"]["nb"],
        "status": "active",
        "language": "nb",
        "item": [
            {
                "linkId": section["id"],
                "type": "group",
                "text": section["title"]["nb"],
                "item": [_item(item, items) for item in section["items"]],
            }
            for section in definition["sections"]
        ],
    }


def _item(item: Mapping[str, Any], items: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    kind = item["type"]
    entry: dict[str, Any] = {
        "linkId": item["name"],
        "text": item["text"]["nb"],
        "type": _TYPES[kind],
        "required": bool(item.get("required")),
    }
    if kind == "multiple_choice":
        entry["repeats"] = True
    if kind in ("single_choice", "likert", "multiple_choice"):
        entry["answerOption"] = [
            {"valueCoding": {"code": str(o["code"]), "display": o["label"]}} for o in item.get("options", [])
        ]
    if kind == "text" and "max_length" in item:
        entry["maxLength"] = item["max_length"]
    if item.get("enable_when"):
        entry["enableWhen"] = [_condition(c, items[c["item"]]) for c in item["enable_when"]]
        if len(item["enable_when"]) > 1:
            entry["enableBehavior"] = item.get("enable_behavior", "all")
    return entry


def _condition(condition: Mapping[str, Any], target: Mapping[str, Any]) -> dict[str, Any]:
    answer = condition["answer"]
    result: dict[str, Any] = {"question": condition["item"], "operator": condition["operator"]}
    if condition["operator"] == "exists":
        result["answerBoolean"] = bool(answer)
    elif target["type"] in ("single_choice", "likert", "multiple_choice"):
        result["answerCoding"] = {"code": str(answer)}
    else:
        result[_ANSWER_KEYS[target["type"]]] = answer
    return result
