"""Every file of a delivery, read back with pyreadstat, pyarrow and the standard library."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pyreadstat
import pytest

from engagement.research.codebooks import DDI_NAMESPACE
from engagement.research.delivery import DeletionList, Delivery, deliver, verify_checksums

from .helpers import COLUMNS, KEY, SMFQ, SNAPSHOT, YES_NO, info, ung18

STEM = "PDB9999_UNG18_v1"
NS = {"d": DDI_NAMESPACE}


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Delivery:
    store = tmp_path_factory.mktemp("store")
    return deliver(
        store,
        [ung18()],
        info(),
        deletion_list=DeletionList(KEY, [7_777_777, 3_333_333, 7_777_777]),
        extra_files={"questionnaires/moba-ung18-1.0.0.json": b'{"resourceType": "Questionnaire"}'},
    )


def same(read: list[object], expected: list[object]) -> bool:
    def norm(value: object) -> object:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return float(value) if isinstance(value, int | float) else value

    return [norm(v) for v in read] == [norm(v) for v in expected]


def test_delivery_folder_holds_the_bundle(delivery: Delivery) -> None:
    assert delivery.path.name == "R2026-01"
    assert delivery.path.parent.name == "PDB9999"
    names = {p.relative_to(delivery.path).as_posix() for p in delivery.path.rglob("*") if p.is_file()}
    assert names == {
        f"{STEM}.sav",
        f"{STEM}.dta",
        f"{STEM}.parquet",
        f"{STEM}.csv",
        "codebook.csv",
        "codebook.xml",
        "codebook.html",
        "datapackage.json",
        "instruments.csv",
        "deletion_list.csv",
        "questionnaires/moba-ung18-1.0.0.json",
        "manifest.json",
        "SHA256SUMS",
    }
    assert not [p for p in delivery.path.parent.iterdir() if p.name.startswith(".")]


def test_sav_reads_back_with_values_labels_missing_codes_and_measures(delivery: Delivery) -> None:
    frame, meta = pyreadstat.read_sav(
        str(delivery.path / f"{STEM}.sav"), user_missing=True, output_format="polars"
    )
    for name, values in COLUMNS.items():
        expected = [v if v is not None else ("" if name == "VERSJON_UNG18_TBL1" else None) for v in values]
        assert same(frame[name].to_list(), expected), name
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["XA24"] == "XA24:UNG18_A; Fullført videregående?; 1. HVERDAG OG UTDANNING"
    assert meta.variable_value_labels["XA24"] == {float(k): v for k, v in YES_NO.items()}
    assert meta.variable_value_labels["XA60"] == {float(k): v for k, v in SMFQ.items()}
    assert meta.missing_ranges["XA24"] == [{"lo": -1.0, "hi": -1.0}, {"lo": -2.0, "hi": -2.0}]
    assert meta.missing_ranges["XA40"] == [{"lo": -3.0, "hi": -3.0}]
    assert meta.variable_measure["XA60"] == "ordinal"
    assert meta.variable_measure["XA40"] == "scale"
    assert meta.original_variable_types["XA46"] == "F3.1"
    assert meta.original_variable_types[KEY] == "F10.0"
    assert "release=R2026-01" in meta.notes
    assert meta.file_label == "MoBa PDB9999 UNG18_v1 R2026-01"


def test_sav_user_missing_codes_read_as_missing_by_default(delivery: Delivery) -> None:
    frame, _ = pyreadstat.read_sav(str(delivery.path / f"{STEM}.sav"), output_format="polars")
    assert frame["XA24"].to_list() == [1.0, 2.0, None, None, None]


def test_sav_is_row_compressed(delivery: Delivery) -> None:
    header = (delivery.path / f"{STEM}.sav").read_bytes()[:80]
    assert header[:4] == b"$FL2"
    assert int.from_bytes(header[72:76], "little") == 1  # 1 = bytecode (row) compression


def test_dta_maps_user_missing_codes_to_extended_missing_letters(delivery: Delivery) -> None:
    frame, meta = pyreadstat.read_dta(
        str(delivery.path / f"{STEM}.dta"), user_missing=True, output_format="polars"
    )
    assert frame["XA24"].to_list() == [1, 2, "a", None, "b"]
    assert frame["XA40"].to_list() == [172, None, "a", 185, 160]
    assert meta.variable_value_labels["XA24"] == {1: "JA", 2: "NEI", "a": "IKKE BESVART", "b": "IKKE AKTUELT"}
    assert same(frame["XA46"].to_list(), COLUMNS["XA46"])
    assert same(frame[KEY].to_list(), COLUMNS[KEY])
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["XA24"] == "XA24:UNG18_A; Fullført videregående?; 1. HVERDAG OG UTDANNING"
    assert labels["XA26"] == "XA26:UNG18_A; Med foreldre; Hvem bor du sammen med? (Hvis ja)"
    plain, _ = pyreadstat.read_dta(str(delivery.path / f"{STEM}.dta"), output_format="polars")
    assert plain["XA24"].to_list() == [1, 2, None, None, None]


def test_dta_cuts_long_variable_labels_to_80_characters(tmp_path: Path) -> None:
    from engagement.research.dataset import Dataset, Variable
    from engagement.research.formats import write_dta

    long = "Å" * 100
    write_dta(Dataset("T", [Variable("X", long)], {"X": [1]}), tmp_path / "t.dta")
    _, meta = pyreadstat.read_dta(str(tmp_path / "t.dta"), metadataonly=True, output_format="polars")
    assert meta.column_labels[0] == "Å" * 75 + "....."


def test_parquet_keeps_narrow_types_values_and_field_metadata(delivery: Delivery) -> None:
    table = pq.read_table(delivery.path / f"{STEM}.parquet")
    for name, values in COLUMNS.items():
        assert table.column(name).to_pylist() == values, name
    assert str(table.schema.field("XA24").type) == "int8"
    meta = table.schema.field("XA24").metadata
    assert meta[b"label"].decode() == "XA24:UNG18_A; Fullført videregående?; 1. HVERDAG OG UTDANNING"
    assert json.loads(meta[b"value_labels"]) == [
        [1, "JA"],
        [2, "NEI"],
        [-1, "IKKE BESVART"],
        [-2, "IKKE AKTUELT"],
    ]
    assert json.loads(meta[b"missing_codes"]) == [-1, -2]
    assert meta[b"question"].decode() == "Har du fullført videregående skole?"
    assert table.schema.field(KEY).metadata[b"role"] == b"key"
    assert table.schema.metadata[b"release"] == b"R2026-01"
    assert (
        pq.ParquetFile(delivery.path / f"{STEM}.parquet").metadata.row_group(0).column(0).compression
        == "ZSTD"
    )


def test_csv_reads_back_with_empty_fields_for_system_missing(delivery: Delivery) -> None:
    table = pa_csv.read_csv(delivery.path / f"{STEM}.csv")
    for name, values in COLUMNS.items():
        assert same(table.column(name).to_pylist(), values), name


def test_csv_neutralises_formulas_while_the_other_formats_keep_the_text(tmp_path: Path) -> None:
    from engagement.research.dataset import Dataset, Variable

    texts = ['=HYPERLINK("http://x")', "+47 22 00 00 00", "-3", "@SUM(A1)", "\tfane", "vanlig", None]
    dataset = Dataset(
        "FRITEKST",
        [Variable("ID", role="key"), Variable("XA90_TEKST", "Fritekst", type="string")],
        {"ID": list(range(1, len(texts) + 1)), "XA90_TEKST": texts},
        primary_key=["ID"],
    )
    delivered = deliver(tmp_path, [dataset], info())
    with (delivered.path / "PDB9999_FRITEKST.csv").open(encoding="utf-8", newline="") as handle:
        cells = [row["XA90_TEKST"] for row in csv.DictReader(handle)]
    assert cells == [f"'{t}" for t in texts[:5]] + ["vanlig", ""]
    parquet = pq.read_table(delivered.path / "PDB9999_FRITEKST.parquet")
    assert parquet.column("XA90_TEKST").to_pylist() == texts
    sav, _ = pyreadstat.read_sav(delivered.path / "PDB9999_FRITEKST.sav", output_format="dict")
    assert list(sav["XA90_TEKST"])[:6] == texts[:6]
    dta, _ = pyreadstat.read_dta(delivered.path / "PDB9999_FRITEKST.dta", output_format="dict")
    assert list(dta["XA90_TEKST"])[:6] == texts[:6]


def test_codebook_csv_lists_every_variable_with_codes_versions_and_lineage(delivery: Delivery) -> None:
    with (delivery.path / "codebook.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    assert list(rows) == list(COLUMNS)
    xa24 = rows["XA24"]
    assert xa24["codes"] == "1=JA; 2=NEI"
    assert xa24["missing_codes"] == "-1=IKKE BESVART; -2=IKKE AKTUELT"
    assert xa24["versions"] == "UNG18_A UNG18_B"
    assert xa24["source"] == "moba-ung18|1.0.0#XA24; moba-ung18|1.1.0#XA24"
    assert xa24["question"] == "Har du fullført videregående skole?"
    assert xa24["storage"] == "int8"
    assert rows["XA26"]["condition"] == "XA25 = 2"
    assert rows["XA61"]["instrument"] == "SMFQ"
    assert rows["XA61"]["reversed"] == "1"


def test_codebook_csv_counts_each_code_valid_and_missing_with_small_cells_hidden(
    delivery: Delivery,
) -> None:
    with (delivery.path / "codebook.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    xa24 = rows["XA24"]  # 1, 2, -1, blank, -2
    assert xa24["frequencies"] == "1=<5; 2=<5"
    assert xa24["missing_frequencies"] == "-1=<5; -2=<5"
    assert (xa24["n_valid"], xa24["n_system_missing"]) == ("<5", "<5")
    assert rows[KEY]["n_valid"] == "5" and rows[KEY]["n_system_missing"] == "0"
    assert rows["XA60"]["frequencies"] == "1=<5; 2=<5; 3=<5"


def test_counts_under_five_are_shown_as_such_and_zero_and_larger_counts_as_they_are() -> None:
    from engagement.research.codebooks import counts, shown
    from engagement.research.dataset import Dataset, Variable

    assert [shown(n) for n in (0, 1, 4, 5, 12)] == ["0", "<5", "<5", "5", "12"]
    dataset = Dataset(
        "T",
        [Variable("X", value_labels={1: "JA", 2: "NEI", 9: "VET IKKE"}, missing_codes=(9,))],
        {"X": [1] * 6 + [2] + [9] * 5 + [None] * 3},
    )
    tally = counts(dataset)["X"]
    assert tally.per_code == {1: 6, 2: 1, 9: 5}
    assert (tally.valid, tally.system_missing) == (7, 3)


def test_a_label_stata_cuts_is_marked_and_kept_whole_in_the_codebook(tmp_path: Path) -> None:
    from engagement.research.dataset import Dataset, Variable

    long = "HVOR OFTE " * 12
    dataset = Dataset("T", [Variable("ID", role="key"), Variable("X", long)], {"ID": [1], "X": [1]})
    delivered = deliver(tmp_path, [dataset], info())
    with (delivered.path / "codebook.csv").open(encoding="utf-8", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["name"] == "X")
    assert row["label"] == long
    assert row["stata_label"] == long[:75] + "....."
    _, meta = pyreadstat.read_dta(delivered.path / "PDB9999_T.dta", metadataonly=True)
    assert meta.column_names_to_labels["X"] == row["stata_label"]


def test_codebook_xml_gives_valid_invalid_and_per_code_counts(delivery: Delivery) -> None:
    root = ET.parse(delivery.path / "codebook.xml").getroot()
    var = root.find("d:dataDscr/d:var[@name='XA24']", NS)
    assert var is not None
    stats = {s.get("type"): s.text for s in var.findall("d:sumStat", NS)}
    assert stats == {"vald": "<5", "invd": "<5"}
    categories = {
        c.findtext("d:catValu", namespaces=NS): (c.get("missing"), c.findtext("d:catStat", namespaces=NS))
        for c in var.findall("d:catgry", NS)
    }
    assert categories == {"1": (None, "<5"), "2": (None, "<5"), "-1": ("Y", "<5"), "-2": ("Y", "<5")}
    key = root.find(f"d:dataDscr/d:var[@name='{KEY}']", NS)
    assert key is not None and key.findtext("d:sumStat[@type='vald']", namespaces=NS) == "5"


def test_codebook_html_reads_offline(delivery: Delivery) -> None:
    from html.parser import HTMLParser

    page = (delivery.path / "codebook.html").read_text(encoding="utf-8")
    seen: list[tuple[str, dict[str, str | None]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            seen.append((tag, dict(attrs)))

    Tags().feed(page)
    tags = {tag for tag, _ in seen}
    assert not tags & {"script", "link", "img", "iframe", "object"}
    assert not [
        a for _, a in seen if any((v or "").startswith(("http:", "https:", "//")) for v in a.values())
    ]
    assert "@import" not in page and "url(" not in page
    assert 'id="UNG18_v1-XA24"' in page
    assert "Fullført videregående?" in page and "IKKE BESVART" in page and "&lt;5" in page


def test_instruments_csv_gives_each_item_its_own_labels_under_its_codes(delivery: Delivery) -> None:
    with (delivery.path / "instruments.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    common = {
        "questionnaire": "UNG18_v1",
        "measure": "SMFQ",
        "subscale": "",
        "likert": "3",
        "scoring": "",
        "reference": "",
        "missing_codes": "-1=IKKE BESVART",
        "response1": "STEMMER IKKE",
        "response2": "STEMMER NOEN GANGER",
        "response3": "STEMMER",
    }
    assert rows == [
        {
            **common,
            "items": "XA60",
            "reversed": "",
            "item_score": "codes 1-3 in the reference's answer order: a 0-based score is code - 1",
        },
        {
            **common,
            "items": "XA61",
            "reversed": "XA61",
            "item_score": "codes 1-3 in the reference's answer order: a 0-based score is code - 1; "
            "reversed item: score the code 4 - code first",
        },
    ]


# The order DDI-Codebook 2.5's XSD fixes for the children of <var> (the ones we write, in order).
VAR_CHILD_ORDER = [
    "labl",
    "qstn",
    "invalrng",
    "universe",
    "sumStat",
    "catgry",
    "derivation",
    "varFormat",
    "notes",
]


def test_codebook_xml_is_ddi_codebook_25_in_schema_order(delivery: Delivery) -> None:
    root = ET.parse(delivery.path / "codebook.xml").getroot()
    assert root.tag == f"{{{DDI_NAMESPACE}}}codeBook"
    assert root.get("version") == "2.5"
    assert [child.tag.split("}")[1] for child in root] == ["docDscr", "stdyDscr", "fileDscr", "dataDscr"]
    assert root.findtext("d:stdyDscr/d:citation/d:titlStmt/d:IDNo", namespaces=NS) == "PDB9999/R2026-01"
    assert root.findtext("d:stdyDscr/d:citation/d:verStmt/d:version", namespaces=NS) == "R2026-01"
    text = root.find("d:fileDscr/d:fileTxt", NS)
    assert text is not None
    assert text.findtext("d:fileName", namespaces=NS) == f"{STEM}.sav"
    assert text.findtext("d:dimensns/d:caseQnty", namespaces=NS) == "5"
    assert text.findtext("d:dimensns/d:varQnty", namespaces=NS) == str(len(COLUMNS))
    variables = root.findall("d:dataDscr/d:var", NS)
    assert [v.get("name") for v in variables] == list(COLUMNS)
    for var in variables:
        tags = [child.tag.split("}")[1] for child in var]
        assert tags == sorted(tags, key=VAR_CHILD_ORDER.index), var.get("name")
    xa24 = variables[3]
    assert xa24.get("intrvl") == "discrete"
    assert xa24.findtext("d:qstn/d:qstnLit", namespaces=NS) == "Har du fullført videregående skole?"
    categories = [
        (c.findtext("d:catValu", namespaces=NS), c.findtext("d:labl", namespaces=NS), c.get("missing"))
        for c in xa24.findall("d:catgry", NS)
    ]
    assert categories == [
        ("1", "JA", None),
        ("2", "NEI", None),
        ("-2", "IKKE AKTUELT", "Y"),
        ("-1", "IKKE BESVART", "Y"),
    ]
    assert variables[5].get("intrvl") == "contin"


def test_datapackage_declares_categories_missing_values_and_key(delivery: Delivery) -> None:
    package = json.loads((delivery.path / "datapackage.json").read_text(encoding="utf-8"))
    assert package["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    (resource,) = package["resources"]
    assert resource["path"] == f"{STEM}.csv"
    assert resource["dialect"]["delimiter"] == ","
    schema = resource["schema"]
    assert schema["primaryKey"] == [KEY]
    fields = {f["name"]: f for f in schema["fields"]}
    xa60 = fields["XA60"]
    assert xa60["type"] == "integer"
    assert "constraints" not in xa60  # labels describe codes; they do not forbid other numbers
    assert xa60["categories"][0] == {"value": 1, "label": "STEMMER IKKE"}
    assert xa60["categoriesOrdered"] is True
    assert xa60["missingValues"] == [
        {"value": "", "label": "SYSTEM MISSING"},
        {"value": "-1", "label": "IKKE BESVART"},
    ]
    assert fields["XA46"]["type"] == "number"
    assert fields["VERSJON_UNG18_TBL1"]["type"] == "string"
    assert "constraints" not in fields["XA46"]


def test_manifest_names_project_release_versions_counts_consent_time_and_data_use(delivery: Delivery) -> None:
    manifest = json.loads((delivery.path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == delivery.manifest
    assert manifest["project"] == "PDB9999"
    assert manifest["release"] == "R2026-01"
    assert manifest["consent_snapshot_at"] == SNAPSHOT.isoformat()
    assert manifest["data_use"]["codes"] == ["DUO:0000006", "DUO:0000027", "DUO:0000029"]
    assert manifest["data_use"]["rek"] == "REK 123456"
    assert manifest["exclusions"] == {"no_consent": 3, "deleted": 1}
    (entry,) = manifest["datasets"]
    assert entry["rows"] == 5
    assert entry["rows_per_version"] == {"UNG18_A": 3, "UNG18_B": 2}
    assert entry["files"] == [f"{STEM}.sav", f"{STEM}.dta", f"{STEM}.parquet", f"{STEM}.csv"]
    assert manifest["deletion_list"] == {
        "file": "deletion_list.csv",
        "key": KEY,
        "count": 2,
        "reason": "withdrawal with deletion",
    }


def test_deletion_list_holds_each_pseudonym_once(delivery: Delivery) -> None:
    lines = (delivery.path / "deletion_list.csv").read_text(encoding="utf-8").splitlines()
    assert lines == [KEY, "3333333", "7777777"]


def test_checksums_cover_every_file_and_verify_with_sha256sum(delivery: Delivery) -> None:
    listed = {line.split("  ", 1)[1] for line in (delivery.path / "SHA256SUMS").read_text().splitlines()}
    files = {p.relative_to(delivery.path).as_posix() for p in delivery.path.rglob("*") if p.is_file()}
    assert listed == files - {"SHA256SUMS"}
    assert verify_checksums(delivery.path) == []
    result = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"],
        cwd=delivery.path,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_a_changed_file_fails_the_checksums(delivery: Delivery, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(delivery.path, copy)
    (copy / "codebook.csv").write_text("changed", encoding="utf-8")
    (copy / "extra.txt").write_text("unlisted", encoding="utf-8")
    assert verify_checksums(copy) == ["codebook.csv: checksum differs", "extra.txt: not listed"]
