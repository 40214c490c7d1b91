"""Questionnaire definitions as data: reading and checking one definition file, and its items.

Pure Python (PyYAML, jsonschema, stdlib): extract writers, the FHIR export and the CLI import it
without Flask or a database. A *definition* is the parsed, normalised dict that is published and
served: option sets resolved, defaults filled in.

Here: loading a file (YAML, ``questionnaires/schema.json``, the rules the schema cannot state, the file's
name and folder) and normalising it; the item helpers every reader of a definition uses (items in order,
export variables, value and variable labels within the SPSS limits, :func:`truncate_utf8`); how an answer
value of each type is recognised (:func:`is_int`, :data:`PARSERS`), which the rule checks here and the
answer checks in :mod:`engagement.questionnaires.answers` share; and :func:`localise` for serving.
Comparing versions of a key (lineage, the folder check, the diff) is in
:mod:`engagement.questionnaires.versions`; answers in :mod:`engagement.questionnaires.answers`. Both import
this module, never the other way round.
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

LANGUAGES = ("nb", "nn", "en")
DEFAULT_CONSENT_PURPOSE = "questionnaires"
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice", "likert"})
ORDERED_TYPES = frozenset({"integer", "decimal", "likert", "year_month", "date", "time"})
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


# ------------------------------------------------------------------------------------ items


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


def option_codes(item: Mapping[str, Any]) -> list[int]:
    return [o["code"] for o in item.get("options", [])]


# ---------------------------------------------------------------------------- answer values
# Shared by the rule checks below and by the answer checks in engagement.questionnaires.answers.


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
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


def parse_time(value: Any) -> int | None:
    match = _TIME.match(value) if isinstance(value, str) else None
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


PARSERS: dict[str, Any] = {"year_month": _parse_year_month, "date": _parse_date, "time": parse_time}


# ------------------------------------------------------------------------------------ the rules


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
        parse = PARSERS[kind]
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
        if not is_int(answer) or answer not in option_codes(target):
            bad(name, f"enable_when answer {answer!r} is not an option code of {ref}")
    elif kind == "yes_no":
        if not isinstance(answer, bool):
            bad(name, f"enable_when answer for {ref} (yes_no) must be true or false")
    elif kind in ("integer", "decimal"):
        if not is_number(answer):
            bad(name, f"enable_when answer for {ref} ({kind}) must be a number")
    elif kind == "text":
        if not isinstance(answer, str):
            bad(name, f"enable_when answer for {ref} (text) must be a string")
    elif PARSERS[kind](answer) is None:
        bad(name, f"enable_when answer {answer!r} is not a {kind} value")


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
