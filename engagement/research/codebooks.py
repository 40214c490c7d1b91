"""The codebooks of a delivery: ``codebook.csv``, ``instruments.csv``, DDI-Codebook 2.5 XML and
``datapackage.json`` (Frictionless), all written from the datasets' variables.

Each function writes (or returns) one file's content and can be used on its own.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pyarrow as pa
import pyarrow.compute as pc

from engagement.research.dataset import Code, Dataset, Variable
from engagement.research.stata import stata_label

if TYPE_CHECKING:
    from engagement.research.delivery import DeliveryInfo

CODEBOOK_CSV = "codebook.csv"
CODEBOOK_XML = "codebook.xml"
DATAPACKAGE = "datapackage.json"
INSTRUMENTS = "instruments.csv"
CODEBOOK_HTML = "codebook.html"
DDI_NAMESPACE = "ddi:codebook:2_5"
DDI_SCHEMA = "ddi:codebook:2_5 https://ddialliance.org/Specification/DDI-Codebook/2.5/XMLSchema/codebook.xsd"
DATAPACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
TABLESCHEMA_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"
SYSTEM_MISSING_LABEL = "SYSTEM MISSING"


SMALL_CELL = 5  # counts from 1 to SMALL_CELL - 1 are shown as "<5": no one is singled out by a count
SMALL_CELL_TEXT = f"<{SMALL_CELL}"


@dataclass(frozen=True)
class Counts:
    """What a variable holds: rows with a real answer, system missing (blank), and per code."""

    valid: int
    system_missing: int
    per_code: Mapping[Code, int]  # every labelled or declared missing code, in label order

    def missing(self, variable: Variable) -> dict[Code, int]:
        return {code: self.per_code.get(code, 0) for code in variable.missing_codes}


def shown(count: int) -> str:
    """A count as a codebook shows it: ``<5`` from 1 to 4, so that no small group can be picked out."""
    return SMALL_CELL_TEXT if 0 < count < SMALL_CELL else str(count)


def counts(dataset: Dataset) -> dict[str, Counts]:
    """Each variable's counts (one pass of Arrow's ``value_counts`` per labelled or coded column)."""
    result: dict[str, Counts] = {}
    for variable in dataset.variables:
        column = dataset.column(variable.name)
        nulls = column.null_count
        codes = [
            *variable.value_labels,
            *(c for c in variable.missing_codes if c not in variable.value_labels),
        ]
        per_code: dict[Code, int] = {}
        if codes and variable.type == "numeric":
            found = {
                float(entry["values"]): int(entry["counts"])
                for entry in pc.value_counts(column.drop_null()).to_pylist()
            }
            per_code = {code: found.get(float(code), 0) for code in codes}
        missing = sum(per_code.get(code, 0) for code in variable.missing_codes)
        result[variable.name] = Counts(len(column) - nulls - missing, nulls, per_code)
    return result


def _frequencies_text(variable: Variable, counted: Counts, missing: bool) -> str:
    codes = set(variable.missing_codes)
    return "; ".join(
        f"{_plain(code)}={shown(count)}"
        for code, count in counted.per_code.items()
        if (code in codes) == missing
    )


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
    "wording_by_version",
    "stata_label",
    "n_valid",
    "n_system_missing",
    "frequencies",
    "missing_frequencies",
)


def write_codebook_csv(
    datasets: Sequence[Dataset], path: Path, counted: Mapping[str, Mapping[str, Counts]] | None = None
) -> None:
    """One row per variable per dataset: name, label, full text, type, codes, versions, filter, instrument,
    the label as Stata keeps it (marked where cut), the wording of each version where they differ, and
    the counts (valid, system missing, per code and per missing code; 1 to 4 shown as ``<5``)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CODEBOOK_COLUMNS)
        for dataset in datasets:
            numbers = counted[dataset.name] if counted is not None else counts(dataset)
            for position, variable in enumerate(dataset.variables, start=1):
                scale = variable.scale
                tally = numbers[variable.name]
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
                        " | ".join(f"{version}: {text}" for version, text in variable.wording.items()),
                        stata_label(variable.label),
                        shown(tally.valid),
                        shown(tally.system_missing),
                        _frequencies_text(variable, tally, missing=False),
                        _frequencies_text(variable, tally, missing=True),
                    ]
                )


INSTRUMENT_COLUMNS = (
    "questionnaire",
    "measure",
    "subscale",
    "items",
    "reversed",
    "likert",
    "scoring",
    "item_score",
    "reference",
    "missing_codes",
)


def _item_score(variable: Variable) -> str:
    """How an item's score follows from its codes, which count from the first answer the reference lists."""
    codes = [int(c) for c in variable.valid_codes()]
    if not codes:
        return ""
    low, high = min(codes), max(codes)
    rule = f"codes {low}-{high} in the reference's answer order: a 0-based score is code - {low}"
    if variable.scale is not None and variable.scale.reversed:
        rule += f"; reversed item: score the code {low + high} - code first"
    return rule


def write_instruments_csv(datasets: Sequence[Dataset], path: Path) -> bool:
    """Scale metadata shaped after phenotools (measure, subscale, items, reversed), one row per item with
    its own answer labels under the codes as they are in the data (``response<code>``), the scale's
    scoring, the item's score from its codes, the reference, and the declared missing codes; False if
    no variable belongs to a scale."""
    items = [(d.name, v) for d in datasets for v in d.variables if v.scale is not None]
    if not items:
        return False
    codes = sorted({int(c) for _, v in items for c in v.valid_codes()})
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*INSTRUMENT_COLUMNS, *(f"response{code}" for code in codes)])
        for dataset_name, variable in items:
            scale = variable.scale
            assert scale is not None
            own = {int(c): variable.value_labels[c] for c in variable.valid_codes()}
            writer.writerow(
                [
                    dataset_name,
                    scale.instrument,
                    scale.subscale,
                    variable.name,
                    variable.name if scale.reversed else "",
                    len(own),
                    scale.scoring,
                    _item_score(variable),
                    scale.reference,
                    _codes_text(variable, missing=True),
                    *(own.get(code, "") for code in codes),
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
    datasets: Sequence[Dataset],
    path: Path,
    info: DeliveryInfo,
    file_names: Mapping[str, str],
    counted: Mapping[str, Mapping[str, Counts]] | None = None,
) -> None:
    """DDI-Codebook 2.5: study, one fileDscr per dataset, one var per variable (labels, question, codes,
    ``sumStat`` valid and invalid counts, ``catStat`` per code; 1 to 4 shown as ``<5``)."""
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
        numbers = counted[dataset.name] if counted is not None else counts(dataset)
        for variable in dataset.variables:
            _ddi_var(data, variable, file_id, numbers[variable.name])
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _ddi_var(parent: ET.Element, variable: Variable, file_id: str, tally: Counts) -> None:
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
    _sub(var, "sumStat", shown(tally.valid), type="vald")
    _sub(var, "sumStat", shown(tally.system_missing + sum(tally.missing(variable).values())), type="invd")
    missing = set(variable.missing_codes)
    for code, text in sorted(variable.value_labels.items(), key=lambda item: (item[0] in missing, item[0])):
        category = _sub(var, "catgry", missing="Y") if code in missing else _sub(var, "catgry")
        _sub(category, "catValu", _plain(code))
        _sub(category, "labl", text)
        _sub(category, "catStat", shown(tally.per_code.get(code, 0)), type="freq")
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
    """Frictionless Data Package v2 describing the CSV files: value labels of real answers as
    ``categories`` (never constraints: a real height is not one of the labelled codes), declared
    missing codes and their labels as ``missingValues``."""
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


# A page that opens offline: no scripts, no fonts, no pictures, its style inline.
_HTML = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!DOCTYPE html>
<html lang="nb">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; line-height: 1.4; color: #111; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2rem; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.n { text-align: right; white-space: nowrap; }
.missing { color: #8a1c1c; }
ul { margin: 0; padding-left: 1.1rem; }
code { font-size: 0.95em; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p>{{ abstract }}</p>
<p>Counts from 1 to 4 are shown as &lt;5. Codes marked <span class="missing">missing</span> are declared
missing values in every file (SPSS user-missing, Stata .a, .b, ..., <code>missing_codes</code> in
codebook.csv); an empty cell (system missing) means not answered.</p>
<nav><ul>
{% for dataset in datasets %}
<li><a href="#{{ dataset.name }}">{{ dataset.name }}</a>: {{ dataset.rows }} rows, {{ dataset.variables|length }} variables</li>
{% endfor %}
</ul></nav>
{% for dataset in datasets %}
<section id="{{ dataset.name }}">
<h2>{{ dataset.name }}</h2>
{% if dataset.description %}<p>{{ dataset.description }}</p>{% endif %}
<table>
<thead><tr><th>#</th><th>Variable</th><th>Label and question</th><th>Asked</th><th>Codes</th>
<th>Valid</th><th>Blank</th></tr></thead>
<tbody>
{% for v in dataset.variables %}
<tr id="{{ dataset.name }}-{{ v.name }}">
<td class="n">{{ loop.index }}</td>
<td><code>{{ v.name }}</code><br>{{ v.type }}, {{ v.measure }}</td>
<td><strong>{{ v.label }}</strong>
{% if v.question %}<br>{{ v.question }}{% endif %}
{% if v.wording %}<ul>{% for version, text in v.wording.items() %}<li>{{ version }}: {{ text }}</li>{% endfor %}</ul>{% endif %}
{% if v.stata_label != v.label %}<br><small>Stata: {{ v.stata_label }}</small>{% endif %}
</td>
<td>{{ v.versions|join(", ") }}{% if v.condition %}<br>if {{ v.condition }}{% endif %}</td>
<td>{% if v.codes %}<ul>{% for code in v.codes %}
<li{% if code.missing %} class="missing"{% endif %}>{{ code.code }} {{ code.label }}: {{ code.count }}{% if code.missing %} (missing){% endif %}</li>
{% endfor %}</ul>{% endif %}</td>
<td class="n">{{ v.valid }}</td>
<td class="n">{{ v.blank }}</td>
</tr>
{% endfor %}
</tbody>
</table>
</section>
{% endfor %}
</body>
</html>
"""
)


def write_codebook_html(
    datasets: Sequence[Dataset],
    path: Path,
    info: DeliveryInfo,
    counted: Mapping[str, Mapping[str, Counts]] | None = None,
) -> None:
    """``codebook.html``: every variable of every dataset with its label, question, versions, condition,
    codes and counts, readable in a browser without a network (no scripts, fonts or pictures)."""
    title = info.title or f"MoBa research delivery {info.project} {info.release}"
    pages = []
    for dataset in datasets:
        numbers = counted[dataset.name] if counted is not None else counts(dataset)
        entries = []
        for variable in dataset.variables:
            tally = numbers[variable.name]
            missing = set(variable.missing_codes)
            entries.append(
                {
                    "name": variable.name,
                    "type": variable.type,
                    "measure": variable.measure,
                    "label": variable.label,
                    "stata_label": stata_label(variable.label),
                    "question": variable.question,
                    "wording": variable.wording,
                    "versions": variable.versions,
                    "condition": variable.condition,
                    "codes": [
                        {
                            "code": _plain(code),
                            "label": variable.value_labels.get(code, ""),
                            "count": shown(count),
                            "missing": code in missing,
                        }
                        for code, count in tally.per_code.items()
                    ],
                    "valid": shown(tally.valid),
                    "blank": shown(tally.system_missing),
                }
            )
        pages.append(
            {
                "name": dataset.name,
                "description": dataset.description,
                "rows": dataset.num_rows,
                "variables": entries,
            }
        )
    abstract = (
        f"Pseudonymised questionnaire data for project {info.project}, release {info.release}; "
        f"participants whose consent covered the project at {info.consent_snapshot_at.isoformat()}."
    )
    path.write_text(_HTML.render(title=title, abstract=abstract, datasets=pages), encoding="utf-8")
