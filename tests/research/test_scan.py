"""The identity scan: fødselsnumre (synthetic ones here) and dates never leave in a delivery."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engagement.participants.person_number import passes_mod11
from engagement.research.scan import IdentifiersFound, find_identifiers, refuse_identifiers
from tests.identities import synthetic_fnr

from .helpers import COLUMNS, KEY, info, ung18


def test_synthetic_numbers_pass_the_check_and_a_changed_digit_fails() -> None:
    fnr = synthetic_fnr(date(2007, 3, 9))
    assert passes_mod11(fnr)
    changed = fnr[:10] + str((int(fnr[10]) + 1) % 10)
    assert not passes_mod11(changed)
    assert passes_mod11(synthetic_fnr(date(2007, 3, 9), d_number=True))


def test_a_number_in_any_text_file_is_found_without_showing_it(tmp_path: Path) -> None:
    fnr = synthetic_fnr(date(2006, 11, 30))
    (tmp_path / "README.md").write_text(f"Kontakt: {fnr}\n", encoding="utf-8")
    (tmp_path / "ok.txt").write_text("12345678901 is not valid; 1234567890123 is longer\n", encoding="utf-8")
    findings = find_identifiers(tmp_path)
    assert [(f.path, f.kind, f.where) for f in findings] == [("README.md", "fodselsnummer", "byte 9")]
    with pytest.raises(IdentifiersFound) as caught:
        refuse_identifiers(tmp_path)
    assert fnr not in str(caught.value.detail)


def test_a_number_is_found_whatever_punctuation_stands_next_to_it(tmp_path: Path) -> None:
    fnr = synthetic_fnr(date(2006, 4, 17))
    (tmp_path / "a.txt").write_text(f"Nummer {fnr}.\nid-{fnr}-x\n({fnr})\n", encoding="utf-8")
    assert [f.where for f in find_identifiers(tmp_path)] == ["byte 7", "byte 23", "byte 38"]


def test_digits_inside_a_checksum_or_a_uuid_are_not_a_number_but_beside_one_they_are(tmp_path: Path) -> None:
    fnr = synthetic_fnr(date(2005, 9, 3))
    digest = f"{'ab' * 20}{fnr}{'c' * 13}"
    assert len(digest) == 64
    uuid = f"1b4e28ba-2fa1-41d2-883f-{fnr}e"
    (tmp_path / "SHA256SUMS").write_text(f"{digest}  PDB9999_UNG18_v1.sav\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text(
        f'{{"id": "{uuid}", "DIGEST": "{digest.upper()}"}}', encoding="utf-8"
    )
    assert find_identifiers(tmp_path) == []
    (tmp_path / "notes.txt").write_text(f"{'ab' * 5}{fnr}cd {fnr}\n{fnr}-1b4e28ba\n", encoding="utf-8")
    assert [(f.path, f.where) for f in find_identifiers(tmp_path)] == [
        ("notes.txt", "byte 10"),
        ("notes.txt", "byte 24"),
        ("notes.txt", "byte 36"),
    ]


def test_numbers_in_parquet_columns_are_found_even_without_their_leading_zero(tmp_path: Path) -> None:
    eleven = synthetic_fnr(date(2006, 11, 30))
    zero_led = synthetic_fnr(date(2006, 1, 5))
    assert zero_led.startswith("0")
    table = pa.table({"A": [1, int(eleven)], "B": [int(zero_led), 2], "T": ["ok", f"fnr {eleven}"]})
    pq.write_table(table, tmp_path / "x.parquet", compression="zstd")
    found = {(f.kind, f.where) for f in find_identifiers(tmp_path)}
    assert found == {
        ("fodselsnummer", "column A row 2"),
        ("fodselsnummer", "column B row 1"),
        ("fodselsnummer", "column T row 2"),
    }


def test_pseudonyms_in_key_columns_are_not_mistaken_for_numbers(tmp_path: Path) -> None:
    from engagement.research.delivery import deliver

    delivery = deliver(tmp_path, [ung18()], info())
    assert find_identifiers(delivery.path) == []
    assert COLUMNS[KEY]


def test_dates_in_data_files_are_found_but_not_in_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "PDB1_X.csv").write_text("ID,WHEN\n1,2024-03-05\n2,05.03.2024\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text('{"created_at": "2026-01-15T09:30:00+00:00"}', encoding="utf-8")
    table = pa.table({"ID": [1], "WHEN": pa.array([date(2024, 3, 5)]), "TXT": ["født 2005-06-07"]})
    pq.write_table(table, tmp_path / "PDB1_X.parquet")
    found = {(f.path, f.kind, f.where) for f in find_identifiers(tmp_path)}
    assert found == {
        ("PDB1_X.csv", "date", "byte 10"),
        ("PDB1_X.csv", "date", "byte 23"),
        ("PDB1_X.parquet", "date-column", "column WHEN"),
        ("PDB1_X.parquet", "date", "column TXT row 1"),
    }


def test_a_number_across_the_scan_s_read_boundary_is_found(tmp_path: Path) -> None:
    fnr = synthetic_fnr(date(2005, 8, 21))
    (tmp_path / "big.bin").write_bytes(b"\x01" * (2**22 - 5) + fnr.encode() + b"\x00" + b"2" * 12)
    assert [f.where for f in find_identifiers(tmp_path)] == [f"byte {2**22 - 5}"]


def test_data_files_are_checked_through_their_dataset_in_memory(tmp_path: Path) -> None:
    from engagement.research.dataset import Variable

    eleven = synthetic_fnr(date(2006, 11, 30))
    zero_led = synthetic_fnr(date(2006, 1, 5))
    planted = ung18(
        {
            **COLUMNS,
            "XA46": [7.5, float(eleven), None, -float(zero_led), 9.0],  # 10 digits without its zero
            "VERSJON_UNG18_TBL1": ["UNG18_A", "UNG18_A", "2005-06-07", "UNG18_B", "UNG18_A"],
        }
    )
    labelled = ung18()
    labelled.variables = (*labelled.variables[:-1], Variable("XA61", f"Kontakt {eleven}"))
    clean = ung18()
    for name in ("a.csv", "b.sav", "c.dta"):
        (tmp_path / name).write_text("no numbers here", encoding="utf-8")
    found = find_identifiers(tmp_path, datasets={"a.csv": planted, "b.sav": labelled, "c.dta": clean})
    assert {(f.path, f.kind, f.where) for f in found} == {
        ("a.csv", "fodselsnummer", "column XA46 row 2"),
        ("a.csv", "fodselsnummer", "column XA46 row 4"),
        ("a.csv", "date", "column VERSJON_UNG18_TBL1 row 3"),
        ("b.sav", "fodselsnummer", "variable XA61"),
    }
    texts = find_identifiers(
        tmp_path, datasets=dict.fromkeys(("a.csv", "b.sav", "c.dta"), clean), texts=[eleven]
    )
    assert [f.kind for f in texts] == ["fodselsnummer"]


def test_a_number_planted_in_a_numeric_column_refuses_the_delivery(tmp_path: Path) -> None:
    from engagement.research.delivery import deliver

    fnr = synthetic_fnr(date(2005, 2, 28))
    with pytest.raises(IdentifiersFound) as caught:
        deliver(tmp_path, [ung18({**COLUMNS, "XA40": [172, None, -3, int(fnr), 160]})], info())
    assert "fodselsnummer in PDB9999_UNG18_v1.csv at column XA40 row 4" in caught.value.detail
    assert fnr not in caught.value.detail
    assert [p.name for p in tmp_path.rglob("*")] == ["PDB9999"]
