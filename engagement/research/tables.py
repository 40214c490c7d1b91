"""The datasets of a delivery, built from the responses an extract chose: one per questionnaire version,
and one harmonised across versions per questionnaire delivered in more than one.

Keys are the project's pseudonyms; ages, never dates (age at submission; year-month and date answers as
age in months or days); numbers from the answer matrix (:mod:`engagement.research.matrix`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from engagement.participants.services import age_on, today_in_oslo
from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services as questionnaires
from engagement.questionnaires.models import QuestionnaireVersion
from engagement.research import variables as rv
from engagement.research.dataset import Dataset, Variable
from engagement.research.matrix import answer_matrix, answer_texts
from engagement.research.models import ResearchProject


class Row(Protocol):
    """A response to deliver (a result row of the extract's choice of responses)."""

    response_id: uuid.UUID
    participant_id: uuid.UUID
    version_id: uuid.UUID
    submitted_at: datetime
    birth_date: date


def datasets(
    project: ResearchProject,
    versions: Sequence[QuestionnaireVersion],
    rows: Sequence[Row],
    pseudonyms: Mapping[uuid.UUID, int],
    reader: sa.Connection,
) -> tuple[list[Dataset], list[dict[str, Any]]]:
    """One dataset per version with rows (or, with none at all, each version's empty table), then one
    harmonised dataset per questionnaire delivered in more than one version; the answers are read
    through ``reader`` alone. Returns the datasets and the definitions of the versions delivered."""
    # Each version's rows in the order of their pseudonyms: sorted once, with numpy.
    numbers = np.fromiter((pseudonyms[r.participant_id] for r in rows), np.int64, len(rows))
    place = {v.id: i for i, v in enumerate(versions)}
    version_of = np.fromiter((place[r.version_id] for r in rows), np.int64, len(rows))
    order = np.lexsort((numbers, version_of))
    bounds = np.searchsorted(version_of[order], np.arange(len(versions) + 1))
    by_version = {v.id: order[bounds[i] : bounds[i + 1]] for i, v in enumerate(versions)}
    chosen = [v for v in versions if len(by_version[v.id])] or list(versions)
    result: list[Dataset] = []
    definitions: list[dict[str, Any]] = []
    per_key: dict[str, list[tuple[dict[str, Any], dict[str, Any], int]]] = {}
    for version in chosen:
        definition = questionnaires.definition_of(version)
        definitions.append(definition)
        chosen_rows = by_version[version.id]
        version_rows = [rows[i] for i in chosen_rows.tolist()]
        fixed = rv.fixed_variables(definition, project.code)
        columns = rv.item_columns(definition)
        values = _version_values(definition, fixed, columns, version_rows, numbers[chosen_rows], reader)
        result.append(
            Dataset(
                rv.dataset_name(version.key, definition["version_label"]),
                [*fixed, *(c.variable for c in columns)],
                values,
                primary_key=[fixed[0].name],
                version_column=fixed[1].name,
                description=f"{definition['title']['nb']} ({definition['version_label']})",
            )
        )
        per_key.setdefault(version.key, []).append((definition, values, len(version_rows)))
    for key, entries in per_key.items():
        if len(entries) > 1:
            result.append(_harmonised(project, key, entries))
    return result, definitions


def _version_values(
    definition: Mapping[str, Any],
    fixed: Sequence[Variable],
    columns: Sequence[rv.Column],
    rows: Sequence[Row],
    pseudonyms: np.ndarray,
    reader: sa.Connection,
) -> dict[str, Any]:
    """The columns of one version's dataset: ``rows`` and their ``pseudonyms``, in that order."""
    count = len(rows)
    values: dict[str, Any] = {
        fixed[0].name: pseudonyms,
        fixed[1].name: pa.array([definition["version_label"]] * count, pa.string()),
        fixed[2].name: _ages_at_submission(rows),
    }
    response_ids = [r.response_id for r in rows]
    numeric = [c.variable.name for c in columns]
    matrix = answer_matrix(response_ids, numeric, questionnaires.export_layout(definition), reader)
    texts = answer_texts(response_ids, [c.variable.name for c in columns if c.kind != "number"], reader)
    for index, column in enumerate(columns):
        name = column.variable.name
        if column.kind == "number":
            values[name] = matrix[index]
        elif column.kind == "text":
            values[name] = pa.array(texts.get(name, [None] * count), pa.string())
        else:
            ages = matrix[index].astype(np.float64)  # special answers (e.g. HUSKER IKKE) are numbers already
            for position, text in enumerate(texts.get(name, [])):
                if text is not None:
                    ages[position] = _age(column.kind, rows[position].birth_date, text)
            values[name] = ages
    _mark_not_shown(definition, columns, values, response_ids, reader)
    return values


def _mark_not_shown(
    definition: Mapping[str, Any],
    columns: Sequence[rv.Column],
    values: dict[str, Any],
    response_ids: Sequence[uuid.UUID],
    reader: sa.Connection,
) -> None:
    """Put ``NOT_SHOWN`` into each empty cell of an item the questionnaire did not show, by the
    server's own rule (``answers.enabled_items``), asked once per distinct set of answers that
    conditions read (the rows' answers to those items are rebuilt in their wire form)."""
    items = qdef.items_by_name(definition)
    conditional = [c for c in columns if items[c.item].get("enable_when") and c.variable.type != "string"]
    if not conditional or not response_ids:
        return
    read = list(dict.fromkeys(cond["item"] for c in conditional for cond in items[c.item]["enable_when"]))
    as_text = [n for n in read if items[n]["type"] in ("year_month", "date", "time", "text")]
    texts = answer_texts(response_ids, as_text, reader) if as_text else {}
    numbers = {n: v for n, v in values.items() if isinstance(v, np.ndarray)}
    parts: list[np.ndarray] = []
    for name in read:
        if name in texts:
            codes = {text: i for i, text in enumerate(dict.fromkeys(t for t in texts[name] if t is not None))}
            parts.append(np.array([codes[t] if t is not None else np.nan for t in texts[name]]))
        else:
            parts.extend(np.asarray(numbers[v], np.float64) for v in qdef.export_variables(items[name]))
    keys = np.nan_to_num(np.column_stack(parts), nan=np.inf)
    distinct, first, which = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    hidden_by_pattern = []
    for row in first.tolist():
        answers = {n: _wire_answer(items[n], numbers, texts, row) for n in read}
        shown = qanswers.enabled_items(definition, {n: a for n, a in answers.items() if a is not None})
        hidden_by_pattern.append({c.item for c in conditional} - shown)
    which = which.reshape(-1)
    for column in conditional:
        hidden = np.fromiter((column.item in h for h in hidden_by_pattern), bool, len(distinct))[which]
        cells = np.asarray(values[column.variable.name], np.float64).copy()
        cells[hidden & np.isnan(cells)] = rv.NOT_SHOWN
        values[column.variable.name] = cells


def _wire_answer(
    item: Mapping[str, Any],
    numbers: Mapping[str, np.ndarray],
    texts: Mapping[str, list[str | None]],
    row: int,
) -> Any:
    """A row's answer to ``item`` as the participant sent it (None if there is none), from its export values."""
    name, kind = item["name"], item["type"]
    if name in texts:
        return texts[name][row]
    if kind == "multiple_choice":
        ticked = [o["code"] for o in item["options"] if numbers[o["variable"]][row] == 1]
        shown = any(not np.isnan(numbers[o["variable"]][row]) for o in item["options"])
        return ticked if shown else None
    value = float(numbers[name][row])
    if np.isnan(value):
        return None
    if kind == "yes_no":
        codes = item.get("codes", qdef.DEFAULT_YES_NO)
        return True if value == codes["yes"] else False if value == codes["no"] else None
    return value if kind == "decimal" and not value.is_integer() else int(value)


def _ages_at_submission(rows: Sequence[Row]) -> np.ndarray:
    """Each row's age in years on its (Oslo) day of submission: the participants' one rule, asked
    once per distinct submission time and once per distinct birth date and day."""
    days: dict[datetime, date] = {}
    ages: dict[tuple[date, date], int] = {}

    def age(born: date, submitted_at: datetime) -> int:
        day = days.get(submitted_at)
        if day is None:
            day = days[submitted_at] = today_in_oslo(submitted_at)
        years = ages.get((born, day))
        if years is None:
            years = ages[(born, day)] = age_on(born, day)
        return years

    return np.fromiter((age(r.birth_date, r.submitted_at) for r in rows), np.int64, len(rows))


def _age(kind: str, born: date, text: str) -> float:
    """Months (year-month answers) or days (dates) from birth to the answer; never the date itself."""
    if kind == "age_months":
        year, month = int(text[:4]), int(text[5:7])
        return float((year - born.year) * 12 + month - born.month)
    return float((date.fromisoformat(text) - born).days)


def _harmonised(
    project: ResearchProject, key: str, entries: Sequence[tuple[dict[str, Any], dict[str, Any], int]]
) -> Dataset:
    definitions = [definition for definition, _, _ in entries]
    fixed = rv.fixed_variables(definitions[-1], project.code)
    targets = rv.harmonise(definitions)
    by_version = {definition["version"]: (values, count) for definition, values, count in entries}
    columns: dict[str, Any] = {}
    for variable in fixed:
        parts = [pa.array(values[variable.name]) for values, _ in by_version.values()]
        columns[variable.name] = pa.concat_arrays([p.cast(parts[0].type) for p in parts])
    for target in targets:
        is_text = target.variable.type == "string"
        pieces: list[Any] = []
        for version, (values, count) in by_version.items():
            source = next((s for s in target.sources if s.version == version), None)
            if source is None or source.column not in values:
                pieces.append([None] * count if is_text else np.full(count, float(rv.NOT_IN_VERSION)))
            elif is_text:
                pieces.append(pa.array(values[source.column]).to_pylist())
            else:
                numbers = np.asarray(values[source.column], dtype=np.float64)
                if source.codes is not None:
                    recoded = np.full(count, np.nan)
                    for old, new in source.codes.items():
                        recoded[numbers == old] = new
                    for reason in rv.REASON_LABELS:  # why a cell is empty stays what it was
                        recoded[numbers == reason] = reason
                    numbers = recoded
                pieces.append(numbers)
        if is_text:
            columns[target.variable.name] = pa.array([v for piece in pieces for v in piece], pa.string())
        else:
            columns[target.variable.name] = np.concatenate(pieces) if pieces else np.array([])
    return Dataset(
        rv.dataset_name(key, None),
        [*fixed, *(t.variable for t in targets)],
        columns,
        primary_key=[fixed[0].name, fixed[1].name],
        version_column=fixed[1].name,
        description=f"{definitions[-1]['title']['nb']}, harmonised across versions",
    )
