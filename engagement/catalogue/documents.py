"""The one place the catalogue calls the extracts' writers: a version's DDI codebook and FHIR Questionnaire.

Both come from the same functions a research delivery uses (:mod:`engagement.research.variables`,
:func:`engagement.research.codebooks.write_codebook_xml`, :mod:`engagement.research.fhir`), so what
the catalogue promises is what a researcher receives. The codebook is written for an empty table
of the version and its counts are taken out (no data, so no frequencies); what the writer says about a delivery (its
project, release and consent snapshot) is replaced by what describes the published version.
"""

from __future__ import annotations

import json
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from engagement.research import codebooks, fhir
from engagement.research import variables as rv
from engagement.research.dataset import Dataset
from engagement.research.delivery import DeliveryInfo

_DDI = f"{{{codebooks.DDI_NAMESPACE}}}"
_ABSTRACT = (
    "Variables of version {label} of the questionnaire “{title}” as delivered to approved research "
    "projects: names, labels, question texts, codes, missing-value codes, conditions and lineage. "
    "Without data; a delivery adds the project's pseudonym as the first variable."
)


def codebook_variables(definition: Mapping[str, Any]) -> list[Any]:
    """The variables of a version's table in a delivery, without the project-specific pseudonym key."""
    fixed = [v for v in rv.fixed_variables(definition, "X") if v.role != "key"]
    return [*fixed, *(column.variable for column in rv.item_columns(definition))]


def codebook_xml(definition: Mapping[str, Any], published_at: datetime) -> bytes:
    """DDI-Codebook 2.5 of one published version, written by the extracts' codebook writer."""
    key, version, label = definition["key"], definition["version"], str(definition["version_label"])
    variables = codebook_variables(definition)
    dataset = Dataset(
        rv.dataset_name(key, label),
        variables,
        {variable.name: [] for variable in variables},
        version_column=rv.version_column_name(key),
        description=f"{definition['title']['nb']}, {label}",
    )
    info = DeliveryInfo(project=key, release=label, consent_snapshot_at=published_at, created_at=published_at)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / codebooks.CODEBOOK_XML
        codebooks.write_codebook_xml([dataset], path, info, {dataset.name: dataset.name})
        root = ET.parse(path).getroot()  # noqa: S314 -- our own file, just written
    title = f"{definition['title']['nb']} ({label})"
    root.set("ID", f"{key}.v{version}")
    for element in root.iter(f"{_DDI}titl"):
        element.text = (
            title if element.text and not element.text.startswith("Codebook") else f"Codebook for {title}"
        )
    for element in root.iter(f"{_DDI}IDNo"):
        element.text = f"{key}/v{version}"
    for element in root.iter(f"{_DDI}abstract"):
        element.text = _ABSTRACT.format(label=label, title=definition["title"]["en"])
    for dimensions in root.iter(f"{_DDI}dimensns"):
        for count in dimensions.findall(f"{_DDI}caseQnty"):
            dimensions.remove(count)  # an empty table: the number of cases says nothing
    for parent in root.iter():
        for statistic in [*parent.findall(f"{_DDI}sumStat"), *parent.findall(f"{_DDI}catStat")]:
            parent.remove(statistic)  # nor do its frequencies
    ET.register_namespace("", codebooks.DDI_NAMESPACE)
    ET.register_namespace("xsi", "http://www.w3.org/2001/XMLSchema-instance")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def questionnaire_json(definition: Mapping[str, Any]) -> bytes:
    """The FHIR R4 Questionnaire of one published version, as shipped with every delivery."""
    return json.dumps(fhir.questionnaire(definition), ensure_ascii=False, indent=2).encode()
