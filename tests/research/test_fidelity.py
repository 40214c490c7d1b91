"""A real delivery of ung18 v1 and v2, read with independent tools: missing values declared and labelled
in every file, statistics that leave them out, a valid Data Package and FHIR R4 Questionnaires."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from frictionless import validate

from engagement.research import variables as rv
from engagement.research.codebooks import DDI_NAMESPACE


@pytest.fixture
def folder(app: Any, make_participant: Any, answer: Any, make_project: Any, extract: Any) -> Path:
    """Four participants: heights 170 and 180 cm, one "don't know my height" (999), one v2 answer of
    185 cm; one man (the menstruation items are not shown), one "prefer not to say" (XA37 = 6)."""
    people = [make_participant() for _ in range(4)]
    answer(people[0], XA40=170, XA37=6)
    answer(people[1], XA40=180, XA32=2, XA33=None, XA34=None, XA35=16, XA36=3)
    answer(people[2], XA40=999, XA33=99, XA34=None)
    answer(people[3], version=2, XA40=185)
    code = make_project()
    delivered = extract(code)
    folder: Path = delivered.folder
    return folder


def sav_of(folder: Path, dataset: str) -> Path:
    return next(folder.glob(f"*_{dataset}.sav"))


def test_spss_declares_special_answers_missing_and_pandas_leaves_them_out(folder: Path) -> None:
    frame, meta = pyreadstat.read_sav(sav_of(folder, "UNG18_A"), user_missing=True)
    assert sorted(frame["XA40"]) == [170, 180, 999]  # the code is there, for whoever wants the reason
    assert meta.missing_ranges["XA40"] == [{"lo": 999.0, "hi": 999.0}]
    assert meta.variable_value_labels["XA40"][999.0] == "VET IKKE HØYDEN MIN"
    assert {r["lo"] for r in meta.missing_ranges["XA37"]} == {5.0, 6.0}
    assert {r["lo"] for r in meta.missing_ranges["XA33"]} == {99.0, float(rv.NOT_SHOWN)}
    assert meta.variable_value_labels["XA33"][float(rv.NOT_SHOWN)] == rv.REASON_LABELS[rv.NOT_SHOWN]

    declared = frame.copy()  # pandas, told what the .sav metadata says is missing
    for name, ranges in meta.missing_ranges.items():
        for declared_range in ranges:
            inside = declared[name].between(declared_range["lo"], declared_range["hi"])
            declared.loc[inside, name] = float("nan")
    assert declared["XA40"].mean() == pytest.approx(175.0)
    plain, _ = pyreadstat.read_sav(sav_of(folder, "UNG18_A"))  # the default read applies them too
    assert plain["XA40"].mean() == pytest.approx(175.0)
    assert pd.isna(plain["XA37"]).sum() == 1


def test_empty_cells_say_why_not_shown_and_not_in_this_version(folder: Path) -> None:
    frame, meta = pyreadstat.read_sav(sav_of(folder, "UNG18_A"), user_missing=True)
    xa33 = sorted(frame["XA33"].dropna())  # first period: not shown to the man
    assert xa33 == [rv.NOT_SHOWN, 12, 99]
    assert sorted(frame["XA35"].dropna()) == [rv.NOT_SHOWN, rv.NOT_SHOWN, 16]  # not shown to the women
    assert sorted(frame["XA34"].dropna()) == [rv.NOT_SHOWN, rv.NOT_SHOWN, 6]  # hidden behind 99 and the man
    assert frame["XA26"].isna().sum() == 0 and frame["XA24"].isna().sum() == 0
    harmonised, meta = pyreadstat.read_sav(sav_of(folder, "UNG18_harmonised"), user_missing=True)
    v2 = harmonised["VERSJON_UNG18_TBL1"] == "UNG18_B"
    assert list(harmonised.loc[v2, "XA46"]) == [rv.NOT_IN_VERSION]  # sleep was not asked in v2
    assert sorted(harmonised.loc[~v2, "XA46"]) == [7.5, 7.5, 7.5]
    assert meta.variable_value_labels["XA46"][float(rv.NOT_IN_VERSION)] == "IKKE I DENNE VERSJONEN"
    plain, _ = pyreadstat.read_sav(sav_of(folder, "UNG18_harmonised"))
    assert plain["XA46"].mean() == pytest.approx(7.5)
    assert plain["XA33"].mean() == pytest.approx(12.0)  # not shown, don't remember: left out


def test_stata_declares_extended_missing_values_with_labels(folder: Path) -> None:
    frame, meta = pyreadstat.read_dta(next(folder.glob("*_UNG18_A.dta")), user_missing=True)
    assert sorted(frame["XA40"].astype(str)) == ["170", "180", "a"]
    assert meta.variable_value_labels["XA40"]["a"] == "VET IKKE HØYDEN MIN"
    assert meta.variable_value_labels["XA37"]["b"] == "ØNSKER IKKE Å SVARE"
    plain, _ = pyreadstat.read_dta(next(folder.glob("*_UNG18_A.dta")))
    assert plain["XA40"].mean() == pytest.approx(175.0)


def test_parquet_and_codebooks_declare_the_missing_codes(folder: Path) -> None:
    field = pq.read_schema(next(folder.glob("*_UNG18_A.parquet"))).field("XA40")
    assert json.loads(field.metadata[b"missing_codes"]) == [999]
    codebook = pd.read_csv(folder / "codebook.csv", dtype=str, keep_default_na=False)
    row = codebook[(codebook["dataset"] == "UNG18_A") & (codebook["name"] == "XA40")].iloc[0]
    assert row["missing_codes"] == "999=VET IKKE HØYDEN MIN"
    ddi = ET.parse(folder / "codebook.xml").getroot()
    var = ddi.find(".//d:var[@name='XA40']", {"d": DDI_NAMESPACE})
    assert var is not None
    missing = [
        c.findtext("d:catValu", namespaces={"d": DDI_NAMESPACE})
        for c in var.iterfind("d:catgry[@missing='Y']", {"d": DDI_NAMESPACE})
    ]
    assert missing == ["999"]
    harmonised = codebook[(codebook["dataset"] == "UNG18_harmonised") & (codebook["name"] == "XA46")].iloc[0]
    assert f"{rv.NOT_IN_VERSION}={rv.REASON_LABELS[rv.NOT_IN_VERSION]}" in harmonised["missing_codes"]


def test_the_data_package_validates_without_an_error(folder: Path) -> None:
    report = validate(folder / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:20]
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    xa40 = next(f for f in descriptor["resources"][0]["schema"]["fields"] if f["name"] == "XA40")
    assert "constraints" not in xa40
    assert {"value": "999", "label": "VET IKKE HØYDEN MIN"} in xa40["missingValues"]


def test_every_questionnaire_parses_as_fhir_r4(folder: Path) -> None:
    """fhir.resources 8 models R5 by default; ``fhir.resources.R4B`` is its R4 line (4.3.0, whose
    Questionnaire is R4's)."""
    files = sorted((folder / "questionnaires").glob("*.json"))
    assert [f.name for f in files] == ["UNG18_A.json", "UNG18_B.json"]
    for file in files:
        resource = Questionnaire.model_validate_json(file.read_bytes())
        assert resource.status == "active"


def fhir_items(folder: Path, version: int) -> dict[str, dict[str, Any]]:
    resource = json.loads(
        (folder / "questionnaires" / f"UNG18_{'AB'[version - 1]}.json").read_text(encoding="utf-8")
    )
    found: dict[str, dict[str, Any]] = {}

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            found[item["linkId"]] = item
            walk(item.get("item", []))

    walk(resource["item"])
    return found


def test_fhir_items_keep_codes_translations_bounds_units_and_special_answers(folder: Path) -> None:
    items = fhir_items(folder, 1)
    xa37 = items["XA37"]["answerOption"]
    assert {o["valueCoding"]["system"] for o in xa37} == {"urn:moba-engagement:CodeSystem:ung18:XA37"}
    assert [o["valueCoding"]["code"] for o in xa37] == ["1", "2", "3", "4", "5", "6"]
    translations = {
        e["extension"][0]["valueCode"]: e["extension"][1]["valueString"]
        for e in items["XA40"]["_text"]["extension"]
    }
    assert translations == {"nn": "Kor høg er du? (cm)", "en": "How tall are you? (cm)"}
    extensions = {e["url"].rsplit("/", 1)[1]: e for e in items["XA40"]["extension"]}
    assert extensions["minValue"]["valueInteger"] == 100 and extensions["maxValue"]["valueInteger"] == 230
    assert extensions["questionnaire-unit"]["valueCoding"]["code"] == "cm"
    assert items["XA40"]["required"] is False  # "don't know my height" is an answer too
    special = items["XA40.special"]["answerOption"]
    assert [(o["valueCoding"]["code"], o["valueCoding"]["display"]) for o in special] == [
        ("999", "Vet ikke høyden min")
    ]
    for item in items.values():
        for condition in item.get("enableWhen", []):
            if "answerCoding" in condition:
                assert condition["operator"] in ("=", "!=")
    xa79 = items["XA79"]  # XA78 > 1, by the server's rule: the codes 2 to 5
    assert xa79["enableBehavior"] == "any"
    assert [c["answerCoding"]["code"] for c in xa79["enableWhen"]] == ["2", "3", "4", "5"]


def test_instruments_give_each_audit_c_item_its_own_labels_scoring_and_reference(folder: Path) -> None:
    instruments = pd.read_csv(folder / "instruments.csv", dtype=str, keep_default_na=False)
    audit = instruments[(instruments["questionnaire"] == "UNG18_A") & (instruments["measure"] == "AUDIT-C")]
    rows = {row["items"]: row for _, row in audit.iterrows()}
    assert list(rows) == ["XA78", "XA79", "XA80"]
    assert rows["XA78"]["response1"] == "ALDRI"
    assert (rows["XA79"]["response1"], rows["XA79"]["response5"]) == ("1-2", "10 ELLER FLERE")
    assert rows["XA80"]["response2"] == "SJELDNERE ENN MÅNEDLIG"
    assert "response0" not in instruments.columns  # the codes as in the data, from 1
    for row in rows.values():
        assert row["scoring"] == "sum" and row["reference"].startswith("Bush K et al.")
        assert row["item_score"].endswith("a 0-based score is code - 1")  # AUDIT-C scores 0-4
    assert rows["XA79"]["missing_codes"] == f"{rv.NOT_SHOWN}={rv.REASON_LABELS[rv.NOT_SHOWN]}"


def test_versions_have_one_name_in_files_version_column_codebook_and_manifest(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    names = [d["name"] for d in manifest["datasets"]]
    assert names == ["UNG18_A", "UNG18_B", "UNG18_harmonised"]
    project = manifest["project"]
    assert manifest["datasets"][0]["files"][0] == f"{project}_UNG18_A.sav"
    assert manifest["datasets"][2]["rows_per_version"] == {"UNG18_A": 3, "UNG18_B": 1}
    frame, _ = pyreadstat.read_sav(sav_of(folder, "UNG18_B"))
    assert set(frame["VERSJON_UNG18_TBL1"]) == {"UNG18_B"}
    codebook = pd.read_csv(folder / "codebook.csv", dtype=str, keep_default_na=False)
    assert set(codebook["dataset"]) == set(names)
    assert set(" ".join(codebook["versions"]).split()) == {"UNG18_A", "UNG18_B"}
    assert {p.name for p in (folder / "questionnaires").iterdir()} == {"UNG18_A.json", "UNG18_B.json"}
