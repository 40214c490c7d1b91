"""Questionnaire definitions as data: load and check one file, evaluate ``enable_when``, validate answers.

Comparing versions of a key (lineage, the folder check, the diff) is in
:mod:`engagement.questionnaires.versions`, which imports this module.

Pure Python (PyYAML, jsonschema, stdlib): extract writers, the FHIR export and the CLI import it
without Flask or a database. A *definition* is the parsed, normalised dict that is published and
served: option sets resolved, defaults filled in. Answers are a dict from item name to value:

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
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from engagement.versioned import FILE_NAME_RULE, version_files, version_in_name

FORMAT = 1
LANGUAGES = ("nb", "nn", "en")
DEFAULT_CONSENT_PURPOSE = "questionnaires"
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice", "likert"})
SPECIAL_TYPES = frozenset({"integer", "decimal", "year_month", "date", "time"})
ORDERED_TYPES = frozenset({"integer", "decimal", "likert", "year_month", "date", "time"})
OPERATORS = ("exists", "=", "!=", ">", "<", ">=", "<=")
DEFAULT_YES_NO = {"yes": 1, "no": 2}
YES_NO_LABELS = {"yes": "JA", "no": "NEI"}
DEFAULT_TEXT_LENGTH = 2000
# SPSS .sav limits (bytes, UTF-8); longer labels are cut at a character boundary with this suffix.
VARIABLE_LABEL_BYTES = 255
VALUE_LABEL_BYTES = 120
TRUNCATION_SUFFIX = "....."

_YEAR_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "questionnaires" / "schema.json"


class DefinitionError(ValueError):
    """A definition failed its checks; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition file: where (file, item) and why."""

    file: str
    item: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.item or '-'}: {self.reason}"


# --------------------------------------------------------------------------------------------- loading


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def read_file(path: Path, source: str | None = None, content: bytes | None = None) -> Any:
    """The YAML document in ``path`` (``yaml.safe_load``); :class:`DefinitionError` when it does not parse."""
    try:
        return yaml.safe_load((path.read_bytes() if content is None else content).decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise DefinitionError([Problem(source or path.name, None, f"not valid YAML: {reason}")]) from exc


def check_schema(raw: Any, source: str) -> list[Problem]:
    """Every place where ``raw`` breaks ``questionnaires/schema.json``."""
    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    problems = []
    for error in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(Problem(source, _item_at(raw, list(error.absolute_path)), _schema_reason(error)))
    return problems


def _item_at(raw: Any, path: list[Any]) -> str | None:
    """The item name (or section id) a schema error is about, for the report."""
    if len(path) >= 4 and path[0] == "sections" and path[2] == "items":
        try:
            name = raw["sections"][path[1]]["items"][path[3]].get("name")
            return str(name) if name else f"sections[{path[1]}].items[{path[3]}]"
        except (IndexError, KeyError, TypeError, AttributeError):
            return None
    if len(path) >= 2 and path[0] == "sections":
        return f"sections[{path[1]}]"
    return None


def _schema_reason(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where or 'document'}: {error.message}"


def normalise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The definition as it is published: option sets resolved, defaults made explicit."""
    definition = copy.deepcopy(dict(raw))
    option_sets = definition.pop("option_sets", {}) or {}
    definition.setdefault("consent_purpose", DEFAULT_CONSENT_PURPOSE)
    definition.setdefault("scales", {})
    for section in definition["sections"]:
        for item in section["items"]:
            set_name = item.pop("option_set", None)
            if set_name is not None and set_name in option_sets:
                item["options"] = copy.deepcopy(option_sets[set_name])
            item.setdefault("exported", item["type"] != "text")
            item.setdefault("sensitive", False)
            if item.get("enable_when"):
                item.setdefault("enable_behavior", "all")
            if item["type"] == "yes_no":
                item.setdefault("codes", dict(DEFAULT_YES_NO))
            if item["type"] == "text":
                item.setdefault("max_length", DEFAULT_TEXT_LENGTH)
            if item["type"] == "time":
                item.setdefault("time_origin", "00:00")
    return definition


def load(path: Path, *, root: Path | None = None) -> dict[str, Any]:
    """Read, check and normalise one definition file on its own; :class:`DefinitionError` lists every problem."""
    source = str(path.relative_to(root)) if root else path.name
    return copy.deepcopy(_load_checked(path.read_bytes(), Path(path.parent.name, path.name), source))


@lru_cache(maxsize=64)
def _load_checked(content: bytes, path: Path, source: str) -> dict[str, Any]:
    # Keyed by the file's bytes, name and folder: checking the same file twice gives the same answer.
    raw = read_file(path, source, content)
    problems = check_schema(raw, source)
    if not problems:
        problems = check_rules(raw, source)
    if not problems:
        problems = check_location(raw, path, source)
    if problems:
        raise DefinitionError(problems)
    return normalise(raw)


def check_location(raw: Mapping[str, Any], path: Path, source: str) -> list[Problem]:
    version = version_in_name(path)
    if version is None:
        return [Problem(source, None, f"file name must be {FILE_NAME_RULE}")]
    problems = []
    if version != raw["version"]:
        problems.append(Problem(source, None, f"file says version {raw['version']} but is named {path.name}"))
    if path.parent.name != raw["key"]:
        problems.append(Problem(source, None, f"key {raw['key']!r} must live in the folder {raw['key']}/"))
    return problems


def definition_files(folder: Path) -> list[Path]:
    """Every ``<key>/v<N>.yaml`` in a questionnaires folder, and every misnamed version file to report
    (consent documents live elsewhere)."""
    return version_files(folder, skip_folders={"consent"})


# ------------------------------------------------------------------------------------ the rules


def iter_items(definition: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item in order of appearance."""
    for section in definition["sections"]:
        yield from section["items"]


def items_by_name(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in iter_items(definition)}


def export_variables(item: Mapping[str, Any]) -> list[str]:
    """The export variables an item becomes: one per option for multiple choice, else its name."""
    if item["type"] == "multiple_choice":
        return [o["variable"] for o in item.get("options", []) if "variable" in o]
    return [item["name"]]


def value_labels(item: Mapping[str, Any]) -> dict[int, str]:
    """Code -> value label of an item's export variable (multiple choice: the 0/1 labels of each option)."""
    if item["type"] == "yes_no":
        codes = item.get("codes", DEFAULT_YES_NO)
        return {codes["yes"]: YES_NO_LABELS["yes"], codes["no"]: YES_NO_LABELS["no"]}
    if item["type"] == "multiple_choice":
        return {1: "KRYSSET AV", 0: "IKKE KRYSSET AV"}
    labels = {o["code"]: o["label"] for o in item.get("options", [])}
    labels.update({s["code"]: s["label"] for s in item.get("special_answers", [])})
    return labels


def truncate_utf8(text: str, max_bytes: int, suffix: str = TRUNCATION_SUFFIX) -> str:
    """``text`` if it fits in ``max_bytes`` of UTF-8, else cut at a character boundary and ended with
    ``suffix``: the one rule for every label an extract carries (SPSS cuts silently where this marks)."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    room = max_bytes - len(suffix.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + suffix


def variable_label(item: Mapping[str, Any], option: Mapping[str, Any] | None = None) -> str:
    """The SPSS variable label: the item's ``label``, else its Bokmål text in upper case; within 255 bytes."""
    stem = item.get("label") or item["text"]["nb"].upper()
    if option is not None:
        stem = f"{option['label']}; {stem}"
    return truncate_utf8(stem, VARIABLE_LABEL_BYTES)


def _codes(item: Mapping[str, Any]) -> list[int]:
    return [o["code"] for o in item.get("options", [])]


def check_rules(raw: Mapping[str, Any], source: str) -> list[Problem]:
    """The rules the JSON Schema cannot state, for a definition that passed the schema."""
    problems: list[Problem] = []

    def bad(item: str | None, reason: str) -> None:
        problems.append(Problem(source, item, reason))

    prefix = raw["variable_prefix"]
    option_sets = raw.get("option_sets", {}) or {}
    scales = raw.get("scales", {}) or {}
    seen_sections: set[str] = set()
    seen_items: dict[str, dict[str, Any]] = {}
    variables: dict[str, str] = {}
    for section in raw["sections"]:
        if section["id"] in seen_sections:
            bad(f"section {section['id']}", "section id used twice")
        seen_sections.add(section["id"])
        for raw_item in section["items"]:
            name = raw_item["name"]
            item = dict(raw_item)
            if "option_set" in item:
                if item["option_set"] not in option_sets:
                    bad(name, f"option_set {item['option_set']!r} is not defined")
                    item["options"] = []
                else:
                    item["options"] = option_sets[item["option_set"]]
            if name in seen_items:
                bad(name, "item name used twice")
            _check_item(item, prefix, scales, bad)
            for variable in export_variables(item):
                if not variable.startswith(prefix):
                    bad(name, f"export variable {variable} does not start with the prefix {prefix}")
                owner = variables.get(variable)
                if owner is not None:
                    bad(name, f"export variable {variable} is already used by {owner}")
                variables[variable] = name
            for condition in item.get("enable_when", []):
                _check_condition(name, condition, seen_items, bad)
            seen_items[name] = item
    for name in seen_items:
        owner = variables.get(name)
        if owner is not None and owner != name:
            bad(name, f"item name {name} is an export variable of {owner}")
    return problems


def _check_item(item: Mapping[str, Any], prefix: str, scales: Mapping[str, Any], bad: Any) -> None:
    name, kind = item["name"], item["type"]
    if "label" in item and len(item["label"].encode()) > VARIABLE_LABEL_BYTES:
        bad(name, f"variable label is longer than {VARIABLE_LABEL_BYTES} bytes (SPSS limit)")
    options = item.get("options", [])
    codes = [o["code"] for o in options] + [s["code"] for s in item.get("special_answers", [])]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        bad(name, f"option codes used twice: {duplicates}")
    labels = [o["label"] for o in options] + [s["label"] for s in item.get("special_answers", [])]
    if len(set(labels)) != len(labels):
        bad(name, "two options have the same export label")
    for label in labels:
        if len(label.encode()) > VALUE_LABEL_BYTES:
            bad(name, f"value label {label[:30]!r}... is longer than {VALUE_LABEL_BYTES} bytes (SPSS limit)")
    for option in options:
        if kind == "multiple_choice" and "variable" not in option:
            bad(name, f"option {option['code']} of a multiple choice item needs its export variable")
        if kind != "multiple_choice" and "variable" in option:
            bad(name, f"option {option['code']}: only multiple choice options have their own variable")
    if kind in ("integer", "decimal"):
        low, high = item["min"], item["max"]
        if kind == "integer" and not (float(low).is_integer() and float(high).is_integer()):
            bad(name, "an integer item needs whole-number min and max")
        if low > high:
            bad(name, f"min {low} is above max {high}")
        for special in item.get("special_answers", []):
            if low <= special["code"] <= high:
                bad(name, f"special answer code {special['code']} lies inside the range {low}..{high}")
    if kind in ("year_month", "date", "time"):
        parse = _PARSERS[kind]
        bounds = [item.get("min"), item.get("max")]
        if any(b is not None and parse(b) is None for b in bounds):
            bad(name, f"min/max must be {kind} values")
        elif None not in bounds and str(bounds[0]) > str(bounds[1]):
            bad(name, f"min {bounds[0]} is after max {bounds[1]}")
    if kind == "yes_no" and "codes" in item and item["codes"]["yes"] == item["codes"]["no"]:
        bad(name, "yes and no need different codes")
    if "scale" in item and item["scale"]["id"] not in scales:
        bad(name, f"scale {item['scale']['id']!r} is not declared under scales")
    if "same_as" in item and "recoded_from" in item:
        bad(name, "declare either same_as or recoded_from, not both")


def _check_condition(
    name: str, condition: Mapping[str, Any], earlier: Mapping[str, Mapping[str, Any]], bad: Any
) -> None:
    ref, operator, answer = condition["item"], condition["operator"], condition["answer"]
    if ref == name:
        bad(name, "enable_when refers to the item itself")
        return
    target = earlier.get(ref)
    if target is None:
        bad(name, f"enable_when refers to {ref}, which is not an earlier item")
        return
    kind = target["type"]
    if operator == "exists":
        if not isinstance(answer, bool):
            bad(name, "enable_when with 'exists' needs answer true or false")
        return
    if operator in ("<", ">", "<=", ">=") and kind not in ORDERED_TYPES:
        bad(name, f"operator {operator} does not apply to {ref} ({kind})")
        return
    if kind in CHOICE_TYPES:
        if not _is_int(answer) or answer not in _codes(target):
            bad(name, f"enable_when answer {answer!r} is not an option code of {ref}")
    elif kind == "yes_no":
        if not isinstance(answer, bool):
            bad(name, f"enable_when answer for {ref} (yes_no) must be true or false")
    elif kind in ("integer", "decimal"):
        if not _is_number(answer):
            bad(name, f"enable_when answer for {ref} ({kind}) must be a number")
    elif kind == "text":
        if not isinstance(answer, str):
            bad(name, f"enable_when answer for {ref} (text) must be a string")
    elif _PARSERS[kind](answer) is None:
        bad(name, f"enable_when answer {answer!r} is not a {kind} value")


# ---------------------------------------------------------------------------- enable_when and answers


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_year_month(value: Any) -> tuple[int, int] | None:
    match = _YEAR_MONTH.match(value) if isinstance(value, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_time(value: Any) -> int | None:
    match = _TIME.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


_PARSERS: dict[str, Any] = {"year_month": _parse_year_month, "date": _parse_date, "time": _parse_time}


def _special_codes(item: Mapping[str, Any]) -> set[int]:
    return {s["code"] for s in item.get("special_answers", [])}


def _comparable(item: Mapping[str, Any], value: Any) -> Any:
    """A value ready for ordering comparisons, or None (special answers do not order)."""
    kind = item["type"]
    if _is_int(value) and value in _special_codes(item):
        return None
    if kind in ("integer", "decimal", "likert"):
        return value if _is_number(value) else None
    if kind in _PARSERS:
        return _PARSERS[kind](value)
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
    special = _is_int(value) and value in _special_codes(item)
    if kind in ("single_choice", "likert"):
        return None if _is_int(value) else "must be an option code (integer)"
    if kind == "multiple_choice":
        if not isinstance(value, list) or not all(_is_int(v) for v in value):
            return "must be a list of option codes (integers)"
        return None
    if kind == "integer":
        return (
            None
            if _is_int(value) or (_is_number(value) and float(value).is_integer())
            else "must be a whole number"
        )
    if kind == "decimal":
        return None if _is_number(value) else "must be a number"
    if kind in _PARSERS:
        formats = {"year_month": "YYYY-MM", "date": "YYYY-MM-DD", "time": "HH:MM"}
        if special or _PARSERS[kind](value) is not None:
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
    if _is_int(value) and value in _special_codes(item):
        return None
    if kind in ("single_choice", "likert"):
        return None if value in _codes(item) else f"{value} is not one of the codes {_codes(item)}"
    if kind == "multiple_choice":
        unknown = [v for v in value if v not in _codes(item)]
        if unknown:
            return f"{unknown} are not among the codes {_codes(item)}"
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
    if kind in _PARSERS:
        parsed = _PARSERS[kind](value)
        low = _PARSERS[kind](item["min"]) if "min" in item else None
        high = _PARSERS[kind](item["max"]) if "max" in item else None
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
        limit = len(set(_codes(item)) | _special_codes(item))
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
        elif _is_int(value) and value in _special_codes(item):
            rows.append((name, name, float(value), None))
        elif kind == "yes_no":
            rows.append((name, name, float(item["codes"]["yes" if value else "no"]), None))
        elif kind == "time":
            minutes = (_parse_time(value) - _parse_time(item.get("time_origin", "00:00"))) % 1440  # type: ignore[operator]
            rows.append((name, name, float(minutes), value))
        elif kind in ("year_month", "date", "text"):
            rows.append((name, name, None, value))
        else:
            rows.append((name, name, float(value), None))
    return rows


# ---------------------------------------------------------------------------------------- serving


def localise(definition: Mapping[str, Any], locale: str) -> dict[str, Any]:
    """The definition with every ``{nb, nn, en}`` text replaced by the text in ``locale``."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == set(LANGUAGES):
                return node[locale]
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    localised: dict[str, Any] = walk(definition)
    return localised


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
