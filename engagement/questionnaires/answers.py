"""Answers to a questionnaire definition: ``enable_when``, validation, normalised rows, and HTML form answers.

Pure Python like :mod:`engagement.questionnaires.definition`, whose item helpers and answer-value parsers
it uses. Answers are a dict from item name to value:

==================  ===============================================  =============================
type                answer on the wire                               normalised (export) rows
==================  ===============================================  =============================
single_choice       option code (int)                                one number
likert              option code (int)                                one number
multiple_choice     list of option codes                             one 0/1 number per option
integer, decimal    number in [min, max], or a special answer code   one number
year_month          ``"YYYY-MM"`` or a special answer code           text (extracts turn it into an age)
date                ``"YYYY-MM-DD"`` or a special answer code        text (extracts turn it into an age)
time                ``"HH:MM"`` or a special answer code             minutes after ``time_origin`` + text
yes_no              ``true`` / ``false``                             ``codes.yes`` / ``codes.no``
text                string up to ``max_length``                      text (exported only if ``exported``)
==================  ===============================================  =============================

The console's preview (:func:`answers_from_form`, :func:`preview`) lives here rather than in a module of
its own: it holds no rule, turning a form into API answers and judging them with the functions above
(including the draft's type check), so it stays next to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from engagement.questionnaires.definition import (
    DEFAULT_TEXT_LENGTH,
    PARSERS,
    is_int,
    is_number,
    items_by_name,
    iter_items,
    option_codes,
    parse_time,
)


def _special_codes(item: Mapping[str, Any]) -> set[int]:
    return {s["code"] for s in item.get("special_answers", [])}


def _comparable(item: Mapping[str, Any], value: Any) -> Any:
    """A value ready for ordering comparisons, or None (special answers do not order)."""
    kind = item["type"]
    if is_int(value) and value in _special_codes(item):
        return None
    if kind in ("integer", "decimal", "likert"):
        return value if is_number(value) else None
    if kind in PARSERS:
        return PARSERS[kind](value)
    return None


def condition_holds(
    condition: Mapping[str, Any], item: Mapping[str, Any], answers: Mapping[str, Any]
) -> bool:
    """One ``enable_when`` entry against the answers so far (FHIR semantics: a missing answer only satisfies
    ``exists: false``; for multiple choice ``=`` means "this option is ticked")."""
    operator, expected = condition["operator"], condition["answer"]
    present = condition["item"] in answers and answers[condition["item"]] not in (None, [], "")
    if operator == "exists":
        return present is expected
    if not present:
        return False
    value = answers[condition["item"]]
    if item["type"] == "multiple_choice":
        ticked = expected in value if isinstance(value, list) else False
        return ticked if operator == "=" else (not ticked if operator == "!=" else False)
    if operator == "=":
        return _equal(value, expected)
    if operator == "!=":
        return not _equal(value, expected)
    left, right = _comparable(item, value), _comparable(item, expected)
    if left is None or right is None:
        return False
    return bool({">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[operator])


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def enabled_items(definition: Mapping[str, Any], answers: Mapping[str, Any]) -> set[str]:
    """Names of the items that are shown given ``answers``; an item whose condition refers to a hidden
    item sees that item as unanswered (its answer, if any, is ignored)."""
    items = items_by_name(definition)
    enabled: set[str] = set()
    visible: dict[str, Any] = {}
    for item in iter_items(definition):
        conditions = item.get("enable_when")
        if conditions:
            results = [condition_holds(c, items[c["item"]], visible) for c in conditions]
            shown = all(results) if item.get("enable_behavior", "all") == "all" else any(results)
        else:
            shown = True
        if shown:
            enabled.add(item["name"])
            if item["name"] in answers:
                visible[item["name"]] = answers[item["name"]]
    return enabled


def _type_error(item: Mapping[str, Any], value: Any) -> str | None:
    """Why ``value`` is not even of the item's answer type (drafts check only this)."""
    kind = item["type"]
    special = is_int(value) and value in _special_codes(item)
    if kind in ("single_choice", "likert"):
        return None if is_int(value) else "must be an option code (integer)"
    if kind == "multiple_choice":
        if not isinstance(value, list) or not all(is_int(v) for v in value):
            return "must be a list of option codes (integers)"
        return None
    if kind == "integer":
        return (
            None
            if is_int(value) or (is_number(value) and float(value).is_integer())
            else "must be a whole number"
        )
    if kind == "decimal":
        return None if is_number(value) else "must be a number"
    if kind in PARSERS:
        formats = {"year_month": "YYYY-MM", "date": "YYYY-MM-DD", "time": "HH:MM"}
        if special or PARSERS[kind](value) is not None:
            return None
        return f"must be {formats[kind]}" + (
            " or a special answer code" if item.get("special_answers") else ""
        )
    if kind == "yes_no":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "text":
        return None if isinstance(value, str) else "must be a string"
    return f"unknown type {kind}"


def _value_error(item: Mapping[str, Any], value: Any, today: date | None) -> str | None:
    """Why a value of the right type is not an allowed answer (range, codes, length)."""
    kind = item["type"]
    if is_int(value) and value in _special_codes(item):
        return None
    if kind in ("single_choice", "likert"):
        return (
            None if value in option_codes(item) else f"{value} is not one of the codes {option_codes(item)}"
        )
    if kind == "multiple_choice":
        unknown = [v for v in value if v not in option_codes(item)]
        if unknown:
            return f"{unknown} are not among the codes {option_codes(item)}"
        if len(set(value)) != len(value):
            return "an option is given twice"
        return None
    if kind in ("integer", "decimal"):
        if not item["min"] <= value <= item["max"]:
            return f"must be between {item['min']} and {item['max']}"
        step = item.get("step")
        if step and abs(round((value - item["min"]) / step) * step - (value - item["min"])) > 1e-9:
            return f"must be in steps of {step} from {item['min']}"
        return None
    if kind in PARSERS:
        parsed = PARSERS[kind](value)
        low = PARSERS[kind](item["min"]) if "min" in item else None
        high = PARSERS[kind](item["max"]) if "max" in item else None
        if (low is not None and parsed < low) or (high is not None and parsed > high):
            return f"must be between {item.get('min', '…')} and {item.get('max', '…')}"
        if item.get("not_in_future") and today is not None:
            limit = (today.year, today.month) if kind == "year_month" else today
            if parsed > limit:
                return "must not be in the future"
        return None
    if kind == "text":
        return _length_error(item, value)
    return None


def _length_error(item: Mapping[str, Any], value: Any) -> str | None:
    """Why an answer of the right type is longer than its item allows (drafts and submissions alike)."""
    if item["type"] == "text":
        limit = item.get("max_length", DEFAULT_TEXT_LENGTH)
        return None if len(value) <= limit else f"must be at most {limit} characters"
    if item["type"] == "multiple_choice":
        limit = len(set(option_codes(item)) | _special_codes(item))
        return None if len(value) <= limit else f"must hold at most {limit} options"
    return None


def check_draft(definition: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, list[str]]:
    """Problems of a draft: unknown items, wrong answer types, and answers longer than their item
    allows (a draft may be incomplete, never longer than a submission may be)."""
    items = items_by_name(definition)
    errors: dict[str, list[str]] = {}
    for name, value in answers.items():
        item = items.get(name)
        if item is None:
            errors[name] = ["not an item of this questionnaire version"]
        elif value is not None and (reason := _type_error(item, value) or _length_error(item, value)):
            errors[name] = [reason]
    return errors


def validate_answers(
    definition: Mapping[str, Any], answers: Mapping[str, Any], *, today: date | None = None
) -> dict[str, list[str]]:
    """Every problem with a submission, per item: unknown items, types, ranges and codes, required items
    that are enabled but unanswered, and answers to items that are not enabled. Empty when valid."""
    items = items_by_name(definition)
    errors: dict[str, list[str]] = {}
    for name in answers:
        if name not in items:
            errors[name] = ["not an item of this questionnaire version"]
    given = {k: v for k, v in answers.items() if k in items and v is not None}
    typed: dict[str, Any] = {}
    for name, value in given.items():
        type_error = _type_error(items[name], value)
        reason = type_error or _value_error(items[name], value, today)
        if reason:
            errors.setdefault(name, []).append(reason)
        if not type_error:
            typed[name] = value
    enabled = enabled_items(definition, typed)
    for item in iter_items(definition):
        name = item["name"]
        if any(c["item"] in errors for c in item.get("enable_when", [])):
            continue  # shown or not cannot be judged while the answer it depends on is wrong
        answered = name in given and given[name] not in ("", [])
        if name not in enabled and name in given:
            errors.setdefault(name, []).append("answered, but the item is not shown given the other answers")
        elif name in enabled and item["required"] and not answered and name not in errors:
            errors[name] = ["required"]
    return errors


def answer_rows(
    definition: Mapping[str, Any], answers: Mapping[str, Any]
) -> list[tuple[str, str, float | None, str | None]]:
    """The normalised form of valid answers: ``(item, variable, number, text)`` per export variable.

    Multiple choice gives one 0/1 row per option when answered; time gives minutes after its origin
    and the text; year-month and date keep their ISO text (extracts turn them into ages)."""
    rows: list[tuple[str, str, float | None, str | None]] = []
    for item in iter_items(definition):
        name = item["name"]
        value = answers.get(name)
        if value is None:
            continue
        kind = item["type"]
        if kind == "multiple_choice":
            rows.extend((name, o["variable"], float(o["code"] in value), None) for o in item["options"])
        elif is_int(value) and value in _special_codes(item):
            rows.append((name, name, float(value), None))
        elif kind == "yes_no":
            rows.append((name, name, float(item["codes"]["yes" if value else "no"]), None))
        elif kind == "time":
            minutes = (parse_time(value) - parse_time(item.get("time_origin", "00:00"))) % 1440  # type: ignore[operator]
            rows.append((name, name, float(minutes), value))
        elif kind in ("year_month", "date", "text"):
            rows.append((name, name, None, value))
        else:
            rows.append((name, name, float(value), None))
    return rows


# ------------------------------------------------------------------------------------ form answers

FORM_SPECIAL_SUFFIX = ".special"


def answers_from_form(definition: Mapping[str, Any], form: Mapping[str, list[str]]) -> dict[str, Any]:
    """The answers an HTML form of ``definition`` gives, in the types the API takes, so that the rules
    above judge them exactly as they judge a submission.

    ``form`` maps a field name to its values (several for ticked boxes). An item's field is its name;
    an item with special answers also has ``<name>.special``, which wins when chosen. Empty fields are
    no answer. A value that does not parse is kept as the text typed, so the type check reports it."""
    answers: dict[str, Any] = {}
    for item in iter_items(definition):
        name, kind = item["name"], item["type"]
        special = [v for v in form.get(name + FORM_SPECIAL_SUFFIX, []) if v.strip()]
        values = [v.strip() for v in form.get(name, []) if v.strip()]
        if special:
            answers[name] = _form_number(special[0], whole=True)
        elif kind == "multiple_choice":
            if values:
                answers[name] = [_form_number(v, whole=True) for v in values]
        elif not values:
            continue
        elif kind in ("single_choice", "likert", "integer"):
            answers[name] = _form_number(values[0], whole=True)
        elif kind == "decimal":
            answers[name] = _form_number(values[0], whole=False)
        elif kind == "yes_no":
            answers[name] = {"true": True, "false": False}.get(values[0], values[0])
        else:
            answers[name] = values[0] if kind != "text" else form[name][0]
    return answers


def _form_number(text: str, *, whole: bool) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    if whole:
        return text
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        return text
    return number if number == number and abs(number) != float("inf") else text


@dataclass(frozen=True)
class Preview:
    """A questionnaire as a participant meets it after these answers: what is shown, and what the
    server would say (a draft check while answering; the full submission check when ``checked``)."""

    answers: dict[str, Any]
    enabled: set[str]
    errors: dict[str, list[str]]
    checked: bool


def preview(
    definition: Mapping[str, Any], form: Mapping[str, list[str]], *, check: bool, today: date | None = None
) -> Preview:
    answers = answers_from_form(definition, form)
    items = items_by_name(definition)
    typed = {k: v for k, v in answers.items() if _type_error(items[k], v) is None}
    errors = validate_answers(definition, answers, today=today) if check else check_draft(definition, answers)
    return Preview(answers, enabled_items(definition, typed), errors, check)
