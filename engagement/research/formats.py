"""The data files of a delivery: SPSS ``.sav``, Stata ``.dta``, Parquet and CSV, one dataset each.

Each ``write_*`` writes one file and can be used on its own; ``delivery.deliver`` schedules them.
- ``.sav`` (row-compressed by default): variable labels, value labels, user-missing codes declared as
  missing values, measure level and ``F`` formats, file label and notes naming the release.
- ``.dta`` (format 118, Stata 14+, written by ``stata``): each variable in the narrowest storage type
  (``byte`` for 0/1 and Likert codes), labels cut to 80 characters, user-missing codes as ``.a``, ``.b``, ...
- ``.parquet`` (zstd): the narrowest integer types; each field's metadata holds its label, value labels
  and missing codes as JSON; user-missing codes stay as values, as in ``.sav`` and ``.csv``.
- ``.csv``: UTF-8, header row, system missing as an empty field; the dialect is in ``datapackage.json``;
  a text cell a spreadsheet would run as a formula begins with ``'`` (the other formats keep the text).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pyreadstat

from engagement.questionnaires.definition import truncate_utf8
from engagement.research import stata
from engagement.research.dataset import Dataset, InvalidDataset, Variable

Format = Literal["sav", "dta", "parquet", "csv"]
SavCompression = Literal["rows", "zsav", "none"]

ALL_FORMATS: tuple[Format, ...] = ("sav", "dta", "parquet", "csv")
SAV_MAX_FILE_LABEL_BYTES = 64


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _spss_format(variable: Variable, column: pa.Array) -> str | None:
    if variable.type == "string":
        return None
    is_integer = pa.types.is_integer(column.type)
    decimals = variable.decimals if variable.decimals is not None else (0 if is_integer else 2)
    bounds = [v.as_py() for v in pc.min_max(column).values()]
    widest = max((len(str(int(v))) for v in bounds if v is not None), default=1)
    width = widest + (decimals + 1 if decimals else 0)
    return f"F{min(width, 40)}.{decimals}"


def _spss_missing(variable: Variable, column: pa.Array) -> list[Any] | None:
    """SPSS's declaration of the variable's user-missing codes; refuses a delivery it cannot declare."""
    if not variable.missing_codes:
        return None
    declared = variable.spss_missing()
    if declared is not None and len(variable.missing_codes) > 3:
        present = pc.unique(column.drop_null()).to_pylist()
        declared = variable.spss_missing(present)
    if declared is None:
        raise InvalidDataset(
            f"{variable.name}: SPSS cannot declare the user-missing codes {list(variable.missing_codes)} "
            "(at most three codes, or one range and one code) without hiding real values"
        )
    return declared


def _labels_for(variable: Variable, column: pa.Array) -> dict[int | float, str]:
    if pa.types.is_integer(column.type):
        return {int(code): text for code, text in variable.value_labels.items()}
    return {float(code): text for code, text in variable.value_labels.items()}


def write_sav(
    dataset: Dataset,
    path: Path,
    *,
    file_label: str = "",
    notes: Sequence[str] = (),
    compression: SavCompression = "rows",
) -> None:
    """SPSS ``.sav`` (or ``.zsav`` with ``compression="zsav"``) with labels, missing codes, measures, formats."""
    labels: dict[str, dict[int | float, str]] = {}
    missing: dict[str, list[Any]] = {}
    formats: dict[str, str] = {}
    for variable in dataset.variables:
        column = dataset.column(variable.name)
        if variable.value_labels:
            labels[variable.name] = _labels_for(variable, column)
        spss_missing = _spss_missing(variable, column)
        if spss_missing:
            missing[variable.name] = spss_missing
        spss_format = _spss_format(variable, column)
        if spss_format:
            formats[variable.name] = spss_format
    pyreadstat.write_sav(
        _frame(dataset.table),
        os.fspath(path),
        file_label=truncate_utf8(file_label, SAV_MAX_FILE_LABEL_BYTES, ""),
        column_labels={v.name: v.label or None for v in dataset.variables},
        compress=compression == "zsav",
        row_compress=compression == "rows",
        note=list(notes) or None,
        variable_value_labels=labels,
        missing_ranges=missing,
        variable_measure={v.name: v.measure for v in dataset.variables},
        variable_format=formats,
    )


def write_dta(dataset: Dataset, path: Path, *, file_label: str = "") -> None:
    """Stata ``.dta`` (format 118) in the narrowest storage types, by our own writer (``stata``):
    labels cut to 80 characters, value labels, user-missing codes as ``.a``, ``.b``, ... labelled."""
    stata.write_dta(dataset, path, file_label=file_label)


def parquet_schema(dataset: Dataset, extra: Mapping[str, str] | None = None) -> pa.Schema:
    """The dataset's Arrow schema with each variable's metadata on its field."""
    fields = []
    for variable, arrow_field in zip(dataset.variables, dataset.table.schema, strict=True):
        meta = {
            "label": variable.label,
            "measure": variable.measure,
            "role": variable.role,
            "value_labels": json.dumps(
                [[c, t] for c, t in variable.value_labels.items()], ensure_ascii=False
            ),
            "missing_codes": json.dumps(list(variable.missing_codes)),
        }
        if variable.question:
            meta["question"] = variable.question
        if variable.source:
            meta["source"] = variable.source
        fields.append(arrow_field.with_metadata(meta))
    schema_meta = {"dataset": dataset.name, "primary_key": json.dumps(list(dataset.primary_key))}
    schema_meta.update(extra or {})
    return pa.schema(fields, metadata=schema_meta)


def write_parquet(dataset: Dataset, path: Path, *, metadata: Mapping[str, str] | None = None) -> None:
    """Parquet (zstd), each field carrying its label, value labels and missing codes."""
    table = dataset.table.cast(parquet_schema(dataset, metadata))
    pq.write_table(table, path, compression="zstd")


# A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): it starts with one of these.
FORMULA_START = r"^[=+\-@\t\r]"
FORMULA_GUARD = "'"  # put before such a cell in CSV output only: spreadsheets show it as text


def neutralise_formulas(column: pa.Array) -> pa.Array:
    """The text column with every cell a spreadsheet would run as a formula prefixed by ``'``."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    risky = pc.match_substring_regex(column, FORMULA_START)
    if not pc.any(risky).as_py():
        return column
    guarded = pc.binary_join_element_wise(FORMULA_GUARD, column, "")
    return pc.if_else(risky, guarded, column)


def write_csv(dataset: Dataset, path: Path, *, delimiter: str = ",") -> None:
    """UTF-8 CSV with a header row; system missing is an empty field; text cells that a spreadsheet
    would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) begin with ``'``."""
    table = dataset.table
    for index, variable in enumerate(dataset.variables):
        if variable.type == "string":
            column = dataset.column(variable.name)
            guarded = neutralise_formulas(column)
            if guarded is not column:
                table = table.set_column(index, variable.name, guarded)
    options = pa_csv.WriteOptions(include_header=True, delimiter=delimiter, quoting_style="needed")
    pa_csv.write_csv(table, path, options)
