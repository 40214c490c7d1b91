"""A questionnaire key's versions against each other: lineage, the folder check, and the version diff.

One home for what may change between versions: :func:`breaking_fields` (answers no longer comparable)
decides both :func:`check_lineage` (a kept name must still ask the same question; ``same_as`` and
``recoded_from`` must name compatible earlier variables) and :func:`diff` (what ``flask questionnaires
diff`` and the console show, with :func:`cosmetic_fields` besides), which is why the lineage lives here
and not with the single-file checks. :func:`check_folder` checks every file with
:func:`engagement.questionnaires.definition.load` and then the lineage across versions, so it lives here
with the lineage. Reading one file stays in :mod:`engagement.questionnaires.definition`, below this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engagement.questionnaires.definition import (
    DefinitionError,
    Problem,
    definition_files,
    items_by_name,
    iter_items,
    load,
    value_labels,
)


@dataclass
class FolderCheck:
    """What :func:`check_folder` found: the definitions that passed, by (key, version), and every problem."""

    definitions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    sources: dict[tuple[str, int], str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def check_folder(
    folder: Path, published: Mapping[tuple[str, int], Mapping[str, Any]] | None = None
) -> FolderCheck:
    """Check every definition file in ``folder``, then lineage and comparability across versions of a key.

    ``published`` adds versions already in the database (their files may have been removed).
    """
    result = FolderCheck()
    for path in definition_files(folder):
        source = str(path.relative_to(folder))
        try:
            definition = load(path, root=folder)
        except DefinitionError as exc:
            result.problems.extend(exc.problems)
            continue
        result.definitions[(definition["key"], definition["version"])] = definition
        result.sources[(definition["key"], definition["version"])] = source
    known: dict[tuple[str, int], Mapping[str, Any]] = {**(published or {}), **result.definitions}
    for (key, version), definition in result.definitions.items():
        earlier = {v: d for (k, v), d in known.items() if k == key and v < version}
        result.problems.extend(check_lineage(definition, earlier, result.sources[(key, version)]))
    return result


def check_lineage(
    definition: Mapping[str, Any], earlier: Mapping[int, Mapping[str, Any]], source: str
) -> list[Problem]:
    """``same_as`` and ``recoded_from`` name a variable of an earlier version with compatible answers, and
    a name kept from the latest earlier version that has it still asks the same question."""
    problems: list[Problem] = []
    previous: dict[str, dict[str, Any]] = {}
    for version in sorted(earlier):
        previous.update(items_by_name(earlier[version]))
    for item in iter_items(definition):
        name = item["name"]
        if "same_as" in item:
            old = previous.get(item["same_as"])
            if old is None:
                problems.append(
                    Problem(source, name, f"same_as {item['same_as']} is not in an earlier version")
                )
            elif old["type"] != item["type"] or value_labels(old) != value_labels(item):
                problems.append(
                    Problem(
                        source, name, f"same_as {item['same_as']}: type or codes differ; use recoded_from"
                    )
                )
        if "recoded_from" in item:
            recode = item["recoded_from"]
            old = previous.get(recode["variable"])
            if old is None:
                problems.append(
                    Problem(source, name, f"recoded_from {recode['variable']} is not in an earlier version")
                )
            else:
                old_codes, new_codes = set(value_labels(old)), set(value_labels(item))
                for source_code, target_code in recode["codes"].items():
                    if int(source_code) not in old_codes:
                        problems.append(
                            Problem(
                                source, name, f"recode: {source_code} is not a code of {recode['variable']}"
                            )
                        )
                    if target_code not in new_codes:
                        problems.append(
                            Problem(source, name, f"recode: {target_code} is not a code of {name}")
                        )
        old = previous.get(name)
        if old is not None:
            breaking = breaking_fields(old, item)
            if breaking:
                problems.append(
                    Problem(
                        source,
                        name,
                        f"changed ({', '.join(breaking)}) but keeps the name of an earlier version; "
                        "a changed question needs a new variable",
                    )
                )
    return problems


# ------------------------------------------------------------------------------ comparing versions

_BREAKING_KEYS = (
    "type",
    "min",
    "max",
    "step",
    "unit",
    "time_origin",
    "codes",
    "enable_when",
    "enable_behavior",
)
_COSMETIC_KEYS = (
    "help",
    "required",
    "label",
    "sensitive",
    "exported",
    "scale",
    "max_length",
    "not_in_future",
)


def _answer_shape(item: Mapping[str, Any]) -> Any:
    return (
        [(o["code"], o["label"], o["text"]["nb"], o.get("variable")) for o in item.get("options", [])],
        [(s["code"], s["label"]) for s in item.get("special_answers", [])],
    )


def breaking_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two items in a way that makes their answers incomparable."""
    fields = [k for k in _BREAKING_KEYS if old.get(k) != new.get(k)]
    if old["text"]["nb"] != new["text"]["nb"]:
        fields.append("text.nb")
    if _answer_shape(old) != _answer_shape(new):
        fields.append("options")
    return fields


def cosmetic_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    fields = [k for k in _COSMETIC_KEYS if old.get(k) != new.get(k)]
    fields += [f"text.{lang}" for lang in ("nn", "en") if old["text"][lang] != new["text"][lang]]
    old_texts = [o["text"] for o in old.get("options", [])]
    new_texts = [o["text"] for o in new.get("options", [])]
    if old_texts != new_texts and "options" not in breaking_fields(old, new):
        fields.append("options.text")
    return fields


@dataclass(frozen=True)
class Change:
    item: str
    change: str  # added | removed | changed
    fields: tuple[str, ...] = ()
    breaks_comparability: bool = False
    note: str = ""

    def __str__(self) -> str:
        verdict = "BREAKS comparability" if self.breaks_comparability else "comparable"
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        note = f"; {self.note}" if self.note else ""
        return f"{self.change:8} {self.item}{detail}: {verdict}{note}"


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Items added, removed and changed from ``old`` to ``new``, and whether each change breaks comparability."""
    before, after = items_by_name(old), items_by_name(new)
    declared = {}
    for item in after.values():
        if "same_as" in item:
            declared[item["same_as"]] = (item["name"], "same_as")
        if "recoded_from" in item:
            declared[item["recoded_from"]["variable"]] = (item["name"], "recoded_from")
    changes: list[Change] = []
    for name in before:
        if name not in after:
            if name in declared:
                successor, how = declared[name]
                changes.append(Change(name, "removed", (), False, f"continued by {successor} ({how})"))
            else:
                changes.append(Change(name, "removed", (), True, "no successor declared"))
    for name, item in after.items():
        if name not in before:
            if "same_as" in item:
                note = f"same question as {item['same_as']}"
            elif "recoded_from" in item:
                note = f"harmonised from {item['recoded_from']['variable']} by a code map"
            else:
                note = "new question"
            changes.append(Change(name, "added", (), False, note))
            continue
        breaking = breaking_fields(before[name], item)
        cosmetic = cosmetic_fields(before[name], item)
        if breaking or cosmetic:
            changes.append(Change(name, "changed", tuple(breaking + cosmetic), bool(breaking)))
    return changes
