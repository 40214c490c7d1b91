"""Write datasets as a research delivery: SPSS, Stata, Parquet and CSV, codebooks, manifest and checksums.

``deliver`` writes the whole folder ``<data store>/<project>/<release>/`` into a hidden sibling, scans
it for identity numbers and dates, and renames it into position only when complete; a release that
exists is never touched. Every other function writes one file and can be used on its own.

Conventions (see ``docs`` in the reference note on research export):
- ``.sav`` (row-compressed by default): variable labels, value labels, user-missing codes declared as
  missing values, measure level and ``F`` formats, file label and notes naming the release.
- ``.dta`` (format 118, Stata 14+): labels cut to 80 characters, user-missing codes as ``.a``, ``.b``, ...
- ``.parquet`` (zstd): the narrowest integer types; each field's metadata holds its label, value labels
  and missing codes as JSON; user-missing codes stay as values, as in ``.sav`` and ``.csv``.
- ``.csv``: UTF-8, header row, system missing as an empty field; the dialect is in ``datapackage.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pyreadstat

from engagement import clock
from engagement.problems import Conflict, DomainError
from engagement.questionnaires.definition import truncate_utf8
from engagement.research.dataset import Code, Dataset, Variable
from engagement.research.scan import refuse_identifiers

Format = Literal["sav", "dta", "parquet", "csv"]
SavCompression = Literal["rows", "zsav", "none"]

ALL_FORMATS: tuple[Format, ...] = ("sav", "dta", "parquet", "csv")
CHECKSUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
CODEBOOK_CSV = "codebook.csv"
CODEBOOK_XML = "codebook.xml"
DATAPACKAGE = "datapackage.json"
INSTRUMENTS = "instruments.csv"
DELETION_LIST = "deletion_list.csv"
MANIFEST_FORMAT = "moba-engagement-delivery/1"

STATA_MAX_LABEL_CHARS = 80
SAV_MAX_FILE_LABEL_BYTES = 64
DDI_NAMESPACE = "ddi:codebook:2_5"
DDI_SCHEMA = "ddi:codebook:2_5 https://ddialliance.org/Specification/DDI-Codebook/2.5/XMLSchema/codebook.xsd"
DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
TABLESCHEMA_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"
SYSTEM_MISSING_LABEL = "SYSTEM MISSING"
# ``.dta`` is written in a process of its own ("auto") from this many cells (rows x variables) on, on
# a machine with at least this many CPUs: the process costs about a second of CPU to start (importing
# pyreadstat, polars, Arrow) and to receive the table, and pays that back from two CPUs on, where
# .sav and .dta then run side by side instead of one after the other (bench/README.md, extracts.py).
PROCESS_FROM_CELLS = 2_000_000
PROCESS_FROM_CPUS = 2

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_DUO = re.compile(r"DUO:\d{7}\Z")


class ReleaseExists(Conflict):
    status, slug, title = 409, "research-release-exists", "This release has already been delivered"


class InvalidDelivery(DomainError):
    status, slug, title = 422, "invalid-research-delivery", "The delivery cannot be written as asked"


@dataclass(frozen=True)
class DeliveryInfo:
    """What the manifest says about a delivery, beyond the datasets themselves."""

    project: str  # e.g. PDB9999; also the project's folder in the data store
    release: str  # e.g. R2026-01; a folder name, never reused
    consent_snapshot_at: datetime  # aware; the moment whose consent decided who is in it
    data_use_codes: Sequence[str] = ()  # DUO CURIEs, e.g. DUO:0000006, DUO:0000027
    data_use: Mapping[str, Any] = field(default_factory=dict)  # REK reference, end date, institution...
    kind: Literal["full", "since-last"] = "full"
    previous_release: str | None = None
    exclusions: Mapping[str, int] = field(default_factory=dict)  # counts only, never who
    created_at: datetime | None = None  # defaults to engagement.clock.now()
    title: str = ""


@dataclass(frozen=True)
class DeletionList:
    """Pseudonyms whose data the project must remove from earlier deliveries."""

    key: str  # the pseudonym variable's name, e.g. UNG_ID_PDB9999
    pseudonyms: Sequence[int]
    reason: str = "withdrawal with deletion"


@dataclass(frozen=True)
class DeliveredFile:
    path: str  # relative to the release folder, with forward slashes
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Delivery:
    path: Path
    files: tuple[DeliveredFile, ...]
    manifest: dict[str, Any]


# --- data files ---------------------------------------------------------------------------------------


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


def _spss_missing(variable: Variable) -> list[Any] | None:
    codes = list(variable.missing_codes)
    if not codes:
        return None
    if len(codes) <= 3:
        return codes
    return [{"lo": min(codes), "hi": max(codes)}]  # Variable.problems checked no real code is inside


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
        spss_missing = _spss_missing(variable)
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


def _stata_column(variable: Variable, column: pa.Array) -> pl.Series | None:
    """The column with its user-missing codes replaced by Stata's letters, or None if it holds none."""
    letters = variable.stata_missing()
    if not letters:
        return None
    codes = pa.array([float(c) for c in letters], pa.float64())
    present = pc.is_in(column.cast(pa.float64()), value_set=codes)
    if not pc.any(present).as_py():
        return None
    # pyreadstat takes Stata's extended missing values only as letters in an object column.
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    numbers = column.fill_null(0).to_numpy(zero_copy_only=False)
    values = numbers.astype(np.int64 if pa.types.is_integer(column.type) else np.float64).astype(object)
    values[nulls] = None
    for code, letter in letters.items():
        values[numbers == code] = letter
    return pl.Series(variable.name, values.tolist(), dtype=pl.Object)


def write_dta(dataset: Dataset, path: Path, *, file_label: str = "") -> None:
    """Stata ``.dta`` (format 118): labels cut to 80 characters, user-missing codes as ``.a``, ``.b``, ..."""
    frame = _frame(dataset.table)
    replaced: list[pl.Series] = []
    labels: dict[str, dict[Any, str]] = {}
    missing: dict[str, list[str]] = {}
    for variable in dataset.variables:
        column = dataset.column(variable.name)
        letters = variable.stata_missing()
        stata = _stata_column(variable, column)
        if stata is not None:
            replaced.append(stata)
            missing[variable.name] = list(letters.values())
        if variable.value_labels:
            labels[variable.name] = {
                (letters[code] if code in letters else int(code)): text
                for code, text in variable.value_labels.items()
            }
            if stata is None:
                labels[variable.name] = {
                    k: v for k, v in labels[variable.name].items() if not isinstance(k, str)
                }
    if replaced:
        frame = frame.with_columns(replaced)
    pyreadstat.write_dta(
        frame,
        os.fspath(path),
        file_label=_stata_label(file_label),
        column_labels={v.name: _stata_label(v.label) or None for v in dataset.variables},
        version=14,
        variable_value_labels=labels,
        missing_user_values=missing or None,
    )


def _stata_label(text: str) -> str:
    if len(text) <= STATA_MAX_LABEL_CHARS:
        return text
    return text[: STATA_MAX_LABEL_CHARS - 5] + "....."


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


def write_csv(dataset: Dataset, path: Path, *, delimiter: str = ",") -> None:
    """UTF-8 CSV with a header row; system missing is an empty field."""
    options = pa_csv.WriteOptions(include_header=True, delimiter=delimiter, quoting_style="needed")
    pa_csv.write_csv(dataset.table, path, options)


# --- codebooks -----------------------------------------------------------------------------------------


def _codes_text(variable: Variable, missing: bool) -> str:
    codes = set(variable.missing_codes)
    return "; ".join(
        f"{_plain(code)}={text}" for code, text in variable.value_labels.items() if (code in codes) == missing
    )


def _plain(code: Code) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code)


def _storage(column: pa.ChunkedArray | pa.Array) -> str:
    return str(column.type)


CODEBOOK_COLUMNS = (
    "dataset",
    "position",
    "name",
    "label",
    "question",
    "type",
    "storage",
    "measure",
    "role",
    "codes",
    "missing_codes",
    "versions",
    "condition",
    "section",
    "instrument",
    "subscale",
    "reversed",
    "source",
)


def write_codebook_csv(datasets: Sequence[Dataset], path: Path) -> None:
    """One row per variable per dataset: name, label, full text, type, codes, versions, filter, instrument."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CODEBOOK_COLUMNS)
        for dataset in datasets:
            for position, variable in enumerate(dataset.variables, start=1):
                scale = variable.scale
                writer.writerow(
                    [
                        dataset.name,
                        position,
                        variable.name,
                        variable.label,
                        variable.question,
                        variable.type,
                        _storage(dataset.table.column(variable.name)),
                        variable.measure,
                        variable.role,
                        _codes_text(variable, missing=False),
                        _codes_text(variable, missing=True),
                        " ".join(variable.versions),
                        variable.condition,
                        variable.section,
                        scale.instrument if scale else "",
                        scale.subscale if scale else "",
                        ("1" if scale.reversed else "0") if scale else "",
                        variable.source,
                    ]
                )


def write_instruments_csv(datasets: Sequence[Dataset], path: Path) -> bool:
    """phenotools-shaped scale metadata (measure, subscale, items, reversed, response0..N); False if no scales."""
    groups: dict[tuple[str, str, str], list[Variable]] = {}
    for dataset in datasets:
        for variable in dataset.variables:
            if variable.scale is not None:
                key = (dataset.name, variable.scale.instrument, variable.scale.subscale)
                groups.setdefault(key, []).append(variable)
    if not groups:
        return False
    widest = max(len(v.valid_codes()) for items in groups.values() for v in items)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["questionnaire", "measure", "subscale", "items", "reversed", "likert"]
            + [f"response{i}" for i in range(widest)]
        )
        for (dataset_name, instrument, subscale), items in groups.items():
            responses = [items[0].value_labels[c] for c in items[0].valid_codes()]
            writer.writerow(
                [
                    dataset_name,
                    instrument,
                    subscale,
                    ",".join(v.name for v in items),
                    ",".join(v.name for v in items if v.scale and v.scale.reversed),
                    len(responses),
                    *responses,
                    *[""] * (widest - len(responses)),
                ]
            )
    return True


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{DDI_NAMESPACE}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


_NATURE = {"nominal": "nominal", "ordinal": "ordinal", "scale": "ratio"}


def write_codebook_xml(
    datasets: Sequence[Dataset], path: Path, info: DeliveryInfo, file_names: Mapping[str, str]
) -> None:
    """DDI-Codebook 2.5: study, one fileDscr per dataset, one var per variable (labels, question, codes)."""
    ET.register_namespace("", DDI_NAMESPACE)
    ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
    root = ET.Element(
        f"{{{DDI_NAMESPACE}}}codeBook",
        {
            "version": "2.5",
            "ID": f"{info.project}.{info.release}",
            "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation": DDI_SCHEMA,
        },
    )
    title = info.title or f"MoBa research delivery {info.project} {info.release}"
    doc = _sub(root, "docDscr")
    doc_citation = _sub(doc, "citation")
    _sub(_sub(doc_citation, "titlStmt"), "titl", f"Codebook for {title}")
    study = _sub(root, "stdyDscr")
    citation = _sub(study, "citation")
    title_statement = _sub(citation, "titlStmt")
    _sub(title_statement, "titl", title)
    _sub(title_statement, "IDNo", f"{info.project}/{info.release}")
    _sub(_sub(citation, "verStmt"), "version", info.release)
    abstract = (
        f"Pseudonymised questionnaire data for project {info.project}, release {info.release}; "
        f"participants whose consent covered the project at {info.consent_snapshot_at.isoformat()}."
    )
    _sub(_sub(study, "stdyInfo"), "abstract", abstract)
    file_ids = {}
    for index, dataset in enumerate(datasets, start=1):
        file_id = f"F{index}"
        file_ids[dataset.name] = file_id
        file_description = _sub(root, "fileDscr", ID=file_id)
        text = _sub(file_description, "fileTxt")
        _sub(text, "fileName", file_names.get(dataset.name, dataset.name))
        if dataset.description:
            _sub(text, "fileCont", dataset.description)
        dimensions = _sub(text, "dimensns")
        _sub(dimensions, "caseQnty", str(dataset.num_rows))
        _sub(dimensions, "varQnty", str(len(dataset.variables)))
    data = _sub(root, "dataDscr")
    for dataset in datasets:
        file_id = file_ids[dataset.name]
        for variable in dataset.variables:
            _ddi_var(data, variable, file_id)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _ddi_var(parent: ET.Element, variable: Variable, file_id: str) -> None:
    attributes = {"ID": f"{file_id}.{variable.name}", "name": variable.name, "files": file_id}
    if variable.type == "numeric":
        attributes["intrvl"] = "contin" if variable.measure == "scale" else "discrete"
        attributes["nature"] = _NATURE[variable.measure]
    var = _sub(parent, "var", **attributes)
    if variable.label:
        _sub(var, "labl", variable.label)
    if variable.question:
        _sub(_sub(var, "qstn"), "qstnLit", variable.question)
    if variable.missing_codes:
        invalid = _sub(var, "invalrng")
        for code in variable.missing_codes:
            _sub(invalid, "item", VALUE=_plain(code))
    if variable.condition:
        _sub(var, "universe", variable.condition)
    missing = set(variable.missing_codes)
    for code, text in sorted(variable.value_labels.items(), key=lambda item: (item[0] in missing, item[0])):
        category = _sub(var, "catgry", missing="Y") if code in missing else _sub(var, "catgry")
        _sub(category, "catValu", _plain(code))
        _sub(category, "labl", text)
    if variable.source:
        _sub(_sub(var, "derivation"), "drvdesc", variable.source)
    _sub(var, "varFormat", type="character" if variable.type == "string" else "numeric", schema="other")
    if variable.versions:
        _sub(var, "notes", "Asked in questionnaire versions: " + ", ".join(variable.versions))


def _field_type(column: pa.ChunkedArray) -> str:
    if pa.types.is_integer(column.type):
        return "integer"
    if pa.types.is_floating(column.type):
        return "number"
    return "string"


def datapackage(
    datasets: Sequence[Dataset], info: DeliveryInfo, csv_names: Mapping[str, str], *, delimiter: str = ","
) -> dict[str, Any]:
    """Frictionless Data Package v2 describing the CSV files (categories with enum constraints)."""
    resources = []
    for dataset in datasets:
        fields = []
        for variable in dataset.variables:
            column = dataset.table.column(variable.name)
            kind = _field_type(column)
            entry: dict[str, Any] = {"name": variable.name, "type": kind}
            if variable.label:
                entry["title"] = variable.label
            if variable.question:
                entry["description"] = variable.question
            valid = variable.valid_codes()
            if valid:
                entry["categories"] = [
                    {"value": _json_code(code, kind), "label": variable.value_labels[code]} for code in valid
                ]
                if variable.measure == "ordinal":
                    entry["categoriesOrdered"] = True
                entry["constraints"] = {"enum": [_json_code(code, kind) for code in valid]}
            missing_values: list[Any] = [{"value": "", "label": SYSTEM_MISSING_LABEL}]
            for code in variable.missing_codes:
                missing_values.append({"value": _plain(code), "label": variable.value_labels.get(code, "")})
            entry["missingValues"] = missing_values
            fields.append(entry)
        schema: dict[str, Any] = {"$schema": TABLESCHEMA_PROFILE, "fields": fields}
        if dataset.primary_key:
            schema["primaryKey"] = list(dataset.primary_key)
        resources.append(
            {
                "name": _resource_name(dataset.name),
                "path": csv_names[dataset.name],
                "type": "table",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {"delimiter": delimiter, "header": True, "quoteChar": '"'},
                "schema": schema,
            }
        )
    return {
        "$schema": DATAPACKAGE_PROFILE,
        "name": _resource_name(f"{info.project}-{info.release}"),
        "title": info.title or f"MoBa research delivery {info.project} {info.release}",
        "version": info.release,
        "resources": resources,
    }


def _json_code(code: Code, kind: str) -> Code:
    if kind == "integer":
        return int(code)
    if kind == "number":
        return float(code)
    return str(code)


def _resource_name(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]", "-", name.lower())


def write_json(data: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_deletion_list(deletion: DeletionList, path: Path) -> None:
    """One pseudonym per line under the key's name, sorted (the order says nothing about who)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([deletion.key])
        for pseudonym in sorted(set(deletion.pseudonyms)):
            writer.writerow([int(pseudonym)])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def write_checksums(
    folder: Path, known: Mapping[str, DeliveredFile] | None = None
) -> tuple[DeliveredFile, ...]:
    """``SHA256SUMS`` over every file in ``folder`` (``sha256sum -c`` format); returns what it listed.

    ``known`` gives files already summed as they were finished (by relative path); each is summed
    again unless its size is still the one recorded."""
    listed = []
    known = known or {}
    for file in _files_under(folder):
        relative = file.relative_to(folder).as_posix()
        if relative == CHECKSUMS:
            continue
        size = file.stat().st_size
        summed = known.get(relative)
        listed.append(
            summed
            if summed is not None and summed.bytes == size
            else DeliveredFile(relative, size, sha256_file(file))
        )
    text = "".join(f"{f.sha256}  {f.path}\n" for f in listed)
    (folder / CHECKSUMS).write_text(text, encoding="utf-8")
    return tuple(listed)


def verify_checksums(folder: Path) -> list[str]:
    """Problems found checking ``SHA256SUMS`` against the folder: changed, missing and unlisted files."""
    problems = []
    listed: dict[str, str] = {}
    for line in (folder / CHECKSUMS).read_text(encoding="utf-8").splitlines():
        digest, _, relative = line.partition("  ")
        listed[relative] = digest
    for relative, digest in listed.items():
        file = folder / relative
        if not file.is_file():
            problems.append(f"{relative}: missing")
        elif sha256_file(file) != digest:
            problems.append(f"{relative}: checksum differs")
    for file in _files_under(folder):
        relative = file.relative_to(folder).as_posix()
        if relative != CHECKSUMS and relative not in listed:
            problems.append(f"{relative}: not listed")
    return problems


# --- the delivery --------------------------------------------------------------------------------------


def _software_version() -> str:
    try:
        return metadata.version("moba-engagement")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _check_request(
    datasets: Sequence[Dataset], info: DeliveryInfo, formats: Iterable[str], extra_files: Mapping[str, bytes]
) -> None:
    problems = []
    for label, value in (("project", info.project), ("release", info.release)):
        if not _COMPONENT.match(value):
            problems.append(f"{label} {value!r} must be a folder name of A-Z, a-z, 0-9, _, . and -")
    if info.consent_snapshot_at.tzinfo is None:
        problems.append("the consent snapshot time must be timezone-aware")
    for code in info.data_use_codes:
        if not _DUO.match(code):
            problems.append(f"data-use code {code!r} is not a DUO CURIE like DUO:0000006")
    unknown = set(formats) - set(ALL_FORMATS)
    if unknown:
        problems.append(f"unknown formats {sorted(unknown)}")
    names = [d.name for d in datasets]
    if len({n.lower() for n in names}) != len(names):
        problems.append("dataset names repeat")
    if not datasets:
        problems.append("a delivery needs at least one dataset")
    for relative in extra_files:
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or any(p in ("..", ".", "") for p in parts):
            problems.append(f"extra file {relative!r} must be a relative path inside the release")
        elif not all(_COMPONENT.match(p) for p in parts):
            problems.append(f"extra file {relative!r} has an unsafe name")
    if problems:
        raise InvalidDelivery("; ".join(problems), problems=problems)


def deliver(
    store: Path | str,
    datasets: Sequence[Dataset],
    info: DeliveryInfo,
    *,
    formats: Iterable[Format] = ALL_FORMATS,
    deletion_list: DeletionList | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    sav_compression: SavCompression = "rows",
    csv_delimiter: str = ",",
    folder: str | None = None,
    alongside: Callable[[], None] | None = None,
    processes: Literal["auto"] | bool | Executor = "auto",
) -> Delivery:
    """Write ``<store>/<project>/<release>/`` completely, or not at all (``folder``: the project's
    folder in the store, when it is not named after the project).

    ``extra_files`` maps relative paths to contents to include (e.g. ``questionnaires/<id>.json``,
    ``README.md``). Files are written into a hidden sibling folder, scanned for fødselsnumre and
    dates (``scan.refuse_identifiers``), checksummed, and renamed into position. Raises
    ``ReleaseExists`` if the release folder exists; on any failure nothing is left behind.

    ``alongside``, if given, runs in another thread while the files are written (e.g. the database
    recording the delivery); the release is renamed into position only if it finished without error.
    The data files of each dataset are written concurrently: Parquet and CSV in threads (Arrow
    releases the GIL), ``.sav`` in a third; pyreadstat holds the GIL, so ``.dta`` is written in a
    process of its own (``processes``: ``"auto"`` as ``wants_process`` says, ``True``
    always, ``False`` never (a thread, after ``.sav``), or an executor from ``writer_process()``
    started earlier, which the caller shuts down). Every writer has finished before ``deliver``
    returns or raises.
    """
    formats = tuple(dict.fromkeys(formats))
    extra_files = dict(extra_files or {})
    _check_request(datasets, info, formats, extra_files)
    if folder is not None and not _COMPONENT.match(folder):
        raise InvalidDelivery(f"folder {folder!r} must be a folder name of A-Z, a-z, 0-9, _, . and -")
    project_dir = Path(store) / (folder or info.project)
    final = project_dir / info.release
    if final.exists():
        raise ReleaseExists(
            f"release {info.release} of {info.project} exists; a release is never overwritten"
        )
    project_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{info.release}.partial-", dir=project_dir))
    side = ThreadPoolExecutor(1, thread_name_prefix="delivery-alongside") if alongside else None
    owned: Executor | None = None
    process: Executor | None = None
    if isinstance(processes, Executor):
        process = processes
    elif processes is True or (
        processes == "auto"
        and "dta" in formats
        and wants_process(sum(d.num_rows * len(d.variables) for d in datasets))
    ):
        process = owned = writer_process()
    try:
        beside = side.submit(alongside) if side and alongside else None
        manifest, sealed = _write_all(
            work, datasets, info, formats, deletion_list, extra_files, sav_compression, csv_delimiter, process
        )
        if beside is not None:
            beside.result()
        refuse_identifiers(work, datasets=_data_files(manifest, datasets), texts=_file_texts(manifest))
        files = write_checksums(work, sealed)
        _fsync_tree(work, skip=sealed)
        try:
            os.rename(work, final)
        except OSError as error:  # another delivery of the same release won the race
            raise ReleaseExists(
                f"release {info.release} of {info.project} appeared while writing; it is never overwritten"
            ) from error
        _fsync_dir(project_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if side is not None:
            side.shutdown(wait=True)  # never return (or raise) while it still runs
        if owned is not None:
            owned.shutdown(wait=True)
    return Delivery(final, files, manifest)


def wants_process(cells: int) -> bool:
    """Whether ``.dta`` of a delivery of ``cells`` cells is best written in a process of its own."""
    return cells >= PROCESS_FROM_CELLS and len(os.sched_getaffinity(0)) >= PROCESS_FROM_CPUS


def writer_process() -> ProcessPoolExecutor:
    """A process for writing ``.dta`` beside ``.sav`` (``deliver(processes=...)``), already starting.

    Spawned, not forked: it shares no threads or locks (polars', Arrow's, the database driver's)
    with this process. Start it early to hide its start-up (importing pyreadstat, polars, Arrow)."""
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    executor.submit(_ready)
    return executor


def _ready() -> None:
    """Nothing: submitted at once so that the process starts (and imports this module) now."""


def _data_files(manifest: Mapping[str, Any], datasets: Sequence[Dataset]) -> dict[str, Dataset]:
    """Each data file written from a dataset, by name: the scan checks the values themselves."""
    by_name = {d.name: d for d in datasets}
    return {file: by_name[entry["name"]] for entry in manifest["datasets"] for file in entry["files"]}


def _file_texts(manifest: Mapping[str, Any]) -> list[str]:
    """The texts the data files carry besides the datasets' own (file labels, notes, Parquet metadata)."""
    return [json.dumps(manifest, ensure_ascii=False)]


def _write_all(
    work: Path,
    datasets: Sequence[Dataset],
    info: DeliveryInfo,
    formats: Sequence[str],
    deletion_list: DeletionList | None,
    extra_files: Mapping[str, bytes],
    sav_compression: SavCompression,
    csv_delimiter: str,
    process: Executor | None = None,
) -> tuple[dict[str, Any], dict[str, DeliveredFile]]:
    """Every file of the delivery into ``work``; returns the manifest, and the data files already
    summed and flushed to disk by their writers (each as soon as it was finished, beside the others)."""
    created_at = info.created_at or clock.now()
    sealed: dict[str, DeliveredFile] = {}
    dataset_entries = []
    csv_names: dict[str, str] = {}
    sav_names: dict[str, str] = {}
    for dataset in datasets:
        stem = f"{info.project}_{dataset.name}"
        versions = dataset.rows_per_version()
        notes = [
            f"project={info.project}",
            f"release={info.release}",
            f"dataset={dataset.name}",
            f"consent_snapshot_at={info.consent_snapshot_at.isoformat()}",
        ]
        label = f"MoBa {info.project} {dataset.name} {info.release}"
        written = []
        jobs: list[partial[None]] = []
        if "sav" in formats:
            name = f"{stem}.zsav" if sav_compression == "zsav" else f"{stem}.sav"
            jobs.append(
                partial(
                    write_sav,
                    dataset,
                    work / name,
                    file_label=label,
                    notes=notes,
                    compression=sav_compression,
                )
            )
            written.append(name)
            sav_names[dataset.name] = name
        if "dta" in formats:
            jobs.append(partial(write_dta, dataset, work / f"{stem}.dta", file_label=label))
            written.append(f"{stem}.dta")
        if "parquet" in formats:
            jobs.append(
                partial(
                    write_parquet,
                    dataset,
                    work / f"{stem}.parquet",
                    metadata={"project": info.project, "release": info.release},
                )
            )
            written.append(f"{stem}.parquet")
        # The CSV is always written: datapackage.json describes it and the codebook points to it.
        jobs.append(partial(write_csv, dataset, work / f"{stem}.csv", delimiter=csv_delimiter))
        written.append(f"{stem}.csv")
        csv_names[dataset.name] = f"{stem}.csv"
        # pyreadstat holds the GIL: .dta in another process if there is one (else after .sav in its
        # thread); Parquet and CSV (Arrow, without the GIL) each in their own thread beside them.
        elsewhere = [job for job in jobs if job.func is write_dta and process is not None]
        held = [job for job in jobs if job.func in (write_sav, write_dta) and job not in elsewhere]
        free = [job for job in jobs if job not in held and job not in elsewhere]
        with ThreadPoolExecutor(1 + len(free), thread_name_prefix="delivery-writer") as pool:
            futures: list[Future[Any]] = [
                *(
                    process.submit(_write_sealed, job.func, job.args, job.keywords)
                    for job in elsewhere
                    if process
                ),
                pool.submit(_run_all, held),
                *(pool.submit(_write_sealed, job.func, job.args, job.keywords) for job in free),
            ]
            # Every writer finishes (or fails) before this returns or raises: nothing writes into
            # the folder while it is removed.
            wait(futures)
            for future in futures:
                for file in future.result():
                    sealed[file.path] = file
        dataset_entries.append(
            {
                "name": dataset.name,
                "rows": dataset.num_rows,
                "variables": len(dataset.variables),
                "primary_key": list(dataset.primary_key),
                "version_column": dataset.version_column,
                "rows_per_version": versions,
                "files": written,
            }
        )
    write_codebook_csv(datasets, work / CODEBOOK_CSV)
    write_codebook_xml(datasets, work / CODEBOOK_XML, info, sav_names or csv_names)
    write_json(datapackage(datasets, info, csv_names, delimiter=csv_delimiter), work / DATAPACKAGE)
    has_instruments = write_instruments_csv(datasets, work / INSTRUMENTS)
    deletion_entry = None
    if deletion_list is not None:
        write_deletion_list(deletion_list, work / DELETION_LIST)
        deletion_entry = {
            "file": DELETION_LIST,
            "key": deletion_list.key,
            "count": len(set(deletion_list.pseudonyms)),
            "reason": deletion_list.reason,
        }
    for relative, content in extra_files.items():
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "project": info.project,
        "release": info.release,
        "kind": info.kind,
        "previous_release": info.previous_release,
        "created_at": created_at.isoformat(),
        "software_version": _software_version(),
        "consent_snapshot_at": info.consent_snapshot_at.isoformat(),
        "data_use": {"codes": list(info.data_use_codes), **dict(info.data_use)},
        "exclusions": dict(info.exclusions),
        "datasets": dataset_entries,
        "deletion_list": deletion_entry,
        "metadata_files": [
            CODEBOOK_CSV,
            CODEBOOK_XML,
            DATAPACKAGE,
            *([INSTRUMENTS] if has_instruments else []),
        ],
        "extra_files": sorted(extra_files),
        "checksums": CHECKSUMS,
    }
    write_json(manifest, work / MANIFEST)
    return manifest, sealed


def _run_all(jobs: Sequence[partial[None]]) -> list[DeliveredFile]:
    return [file for job in jobs for file in _write_sealed(job.func, job.args, job.keywords)]


def _write_sealed(
    write: Callable[..., None], args: Sequence[Any], keywords: Mapping[str, Any]
) -> list[DeliveredFile]:
    """Run one data-file writer (``write(dataset, path, ...)``), then sum its file and flush it to
    disk: the file is final, and this runs beside the other writers rather than after them all."""
    write(*args, **keywords)
    path = Path(args[1])
    digest = sha256_file(path)
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
    return [DeliveredFile(path.name, path.stat().st_size, digest)]


def _fsync_tree(folder: Path, skip: Collection[str] = ()) -> None:
    """Flush every file (but those in ``skip``, relative paths already flushed) and every folder."""
    for file in _files_under(folder):
        if file.relative_to(folder).as_posix() in skip:
            continue
        with file.open("rb") as handle:
            os.fsync(handle.fileno())
    for directory in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
