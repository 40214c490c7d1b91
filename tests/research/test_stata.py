"""Our Stata 118 writer, read back by two independent readers: pyreadstat (ReadStat) and pandas."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from pandas.io.stata import StataMissingValue, StataReader

from engagement.research.dataset import Dataset, Variable
from engagement.research.stata import write_dta

from .helpers import COLUMNS, KEY, SMFQ, YES_NO, ung18

HEIGHT = Variable(
    "XA40", "Høyde i cm", measure="scale", value_labels={999: "VET IKKE HØYDEN MIN"}, missing_codes=(999,)
)
TYPE_NAMES = {65530: "byte", 65529: "int", 65528: "long", 65527: "float", 65526: "double", 32768: "strL"}


def storage_types(path: Path) -> list[str]:
    """Each variable's storage type as the file declares it (``byte``, ``int``, ..., ``str7``, ``strL``),
    read straight from its ``<variable_types>`` section."""
    data = path.read_bytes()
    count = struct.unpack_from("<H", data, data.index(b"<K>") + 3)[0]
    start = data.index(b"<variable_types>") + len(b"<variable_types>")
    codes = struct.unpack_from(f"<{count}H", data, start)
    return [TYPE_NAMES.get(code, f"str{code}") for code in codes]


def written(tmp_path: Path, dataset: Dataset, **options: object) -> Path:
    path = tmp_path / f"{dataset.name}.dta"
    write_dta(dataset, path, **options)  # type: ignore[arg-type]
    return path


def missing_letters(values: list[object]) -> list[object]:
    """pandas' cells with Stata's missing values shown as ``.``, ``.a``, ..."""
    return [v.string if isinstance(v, StataMissingValue) else v for v in values]


def test_each_variable_is_stored_in_the_narrowest_type_its_real_values_allow(tmp_path: Path) -> None:
    path = written(tmp_path, ung18())
    assert storage_types(path) == ["long", "str7", "byte", "byte", "byte", "int", "double", "byte", "byte"]
    _, meta = pyreadstat.read_dta(path, metadataonly=True)
    assert meta.readstat_variable_types == {
        KEY: "int32",  # up to 2,147,483,620, Stata's largest long
        "VERSJON_UNG18_TBL1": "string",
        "AGE_YRS_XA": "int8",
        "XA24": "int8",  # 1/2 with -1 and -2 as .a and .b
        "XA26": "int8",  # 0/1
        "XA40": "int16",  # 160 to 185 cm: beyond a byte's 100
        "XA46": "double",  # 7.5 hours
        "XA60": "int8",
        "XA61": "int8",
    }
    assert meta.original_variable_types == {
        KEY: "%12.0g",
        "VERSJON_UNG18_TBL1": "%-7s",
        "AGE_YRS_XA": "%8.0g",
        "XA24": "%8.0g",
        "XA26": "%8.0g",
        "XA40": "%8.0g",
        "XA46": "%10.0g",
        "XA60": "%8.0g",
        "XA61": "%8.0g",
    }


def test_pyreadstat_reads_values_letters_labels_and_the_file_label(tmp_path: Path) -> None:
    path = written(tmp_path, ung18(), file_label="MoBa PDB9999 UNG18_v1 R2026-01")
    frame, meta = pyreadstat.read_dta(path, user_missing=True, output_format="dict")
    assert list(frame[KEY]) == COLUMNS[KEY]
    assert list(frame["VERSJON_UNG18_TBL1"]) == COLUMNS["VERSJON_UNG18_TBL1"]
    assert list(frame["XA24"]) == [1, 2, "a", None, "b"]
    assert list(frame["XA40"]) == [172, None, "a", 185, 160]
    assert list(frame["XA46"]) == [7.5, 8.0, None, 6.5, 9.0]
    assert list(frame["XA60"]) == [1, 2, 3, "a", None]
    assert meta.file_label == "MoBa PDB9999 UNG18_v1 R2026-01"
    assert (
        meta.column_names_to_labels["XA24"] == "XA24:UNG18_A; Fullført videregående?; 1. HVERDAG OG UTDANNING"
    )
    assert meta.variable_value_labels["XA24"] == {1: "JA", 2: "NEI", "a": "IKKE BESVART", "b": "IKKE AKTUELT"}
    assert meta.variable_value_labels["XA60"] == {
        **{c: t for c, t in SMFQ.items() if c > 0},
        "a": "IKKE BESVART",
    }
    assert meta.variable_value_labels["XA40"] == {"a": "VET IKKE HØYDEN MIN"}
    assert meta.variable_to_label["XA24"] == "XA24"  # one label set per variable, named like it
    assert "AGE_YRS_XA" not in meta.variable_to_label
    assert meta.missing_user_values["XA24"] == ["a", "b"]
    plain, _ = pyreadstat.read_dta(path, output_format="dict")  # the letters are missing by default
    assert list(plain["XA24"]) == [1, 2, None, None, None]


def test_pandas_reads_the_letters_the_value_labels_and_leaves_missing_values_out(tmp_path: Path) -> None:
    dataset = Dataset(
        "T",
        [Variable("ID", role="key"), HEIGHT, Variable("XA24", value_labels=YES_NO, missing_codes=(-1, -2))],
        {"ID": [1, 2, 3, 4, 5], "XA40": [170, 180, 999, None, 185], "XA24": [1, -2, -1, None, 2]},
    )
    path = written(tmp_path, dataset)
    assert storage_types(path) == ["byte", "int", "byte"]
    letters = pd.read_stata(path, convert_missing=True, convert_categoricals=False)
    assert missing_letters(list(letters["XA40"])) == [170, 180, ".a", ".", 185]
    assert missing_letters(list(letters["XA24"])) == [1, ".b", ".a", ".", 2]
    with StataReader(path) as reader:
        reader.read()
        labels = reader.value_labels()
        assert reader.variable_labels()["XA40"] == "Høyde i cm"
        assert reader.data_label == ""
    assert labels["XA24"] == {1: "JA", 2: "NEI", 2_147_483_622: "IKKE BESVART", 2_147_483_623: "IKKE AKTUELT"}
    assert labels["XA40"] == {2_147_483_622: "VET IKKE HØYDEN MIN"}
    plain = pd.read_stata(path, convert_categoricals=False)
    assert plain["XA40"].mean() == pytest.approx(178.3333, abs=1e-3)  # 170, 180, 185: not 999
    assert plain["XA40"].isna().sum() == 2


def test_a_fraction_column_keeps_its_letters_as_double_missing_values(tmp_path: Path) -> None:
    sleep = Variable("XA46", value_labels={-4: "IKKE I DENNE VERSJONEN"}, missing_codes=(-4,))
    path = written(tmp_path, Dataset("T", [sleep], {"XA46": [7.5, -4, None, 8.25]}))
    assert storage_types(path) == ["double"]
    frame = pd.read_stata(path, convert_missing=True, convert_categoricals=False)
    assert missing_letters(list(frame["XA46"])) == [7.5, ".a", ".", 8.25]
    cells = path.read_bytes().split(b"<data>")[1][:32]
    assert cells[8:16] == bytes.fromhex("000000000001e07f")  # .a = . + 2**1011
    assert cells[16:24] == bytes.fromhex("000000000000e07f")  # . = 2**1023
    _, meta = pyreadstat.read_dta(path, metadataonly=True)
    assert meta.variable_value_labels["XA46"] == {"a": "IKKE I DENNE VERSJONEN"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([-127, 100], "byte"),
        ([0, 101], "int"),
        ([-128, 0], "int"),
        ([-32767, 32740], "int"),
        ([0, 32741], "long"),
        ([-32768, 0], "long"),
        ([-2_147_483_647, 2_147_483_620], "long"),
        ([0, 2_147_483_621], "double"),
    ],
)
def test_the_type_changes_exactly_at_statas_bounds(tmp_path: Path, values: list[int], expected: str) -> None:
    path = written(tmp_path, Dataset("T", [Variable("X")], {"X": [*values, None]}))
    assert storage_types(path) == [expected]
    frame, _ = pyreadstat.read_dta(path, output_format="dict")
    assert list(frame["X"]) == [*values, None]
    assert list(pd.read_stata(path)["X"].iloc[:2]) == values


def test_the_codes_that_become_letters_never_widen_the_type(tmp_path: Path) -> None:
    items = [
        Variable("NARROW", value_labels={999: "VET IKKE"}, missing_codes=(999,)),  # 999 alone needs int
        Variable("WIDE", value_labels={-1: "IKKE BESVART"}, missing_codes=(-1,)),  # -1 fits a byte
        Variable("CODED", value_labels={101: "VET IKKE", 127: "VIL IKKE SVARE"}, missing_codes=(101, 127)),
    ]
    columns = {"NARROW": [1, 999, 5], "WIDE": [150, -1, 200], "CODED": [101, 127, 100]}
    path = written(tmp_path, Dataset("T", items, columns))
    assert storage_types(path) == ["byte", "int", "byte"]
    frame, meta = pyreadstat.read_dta(path, user_missing=True, output_format="dict")
    assert list(frame["NARROW"]) == [1, "a", 5]
    assert list(frame["WIDE"]) == [150, "a", 200]
    assert list(frame["CODED"]) == ["a", "b", 100]  # 101..127 in a byte column are Stata's letters
    assert meta.variable_value_labels["CODED"] == {"a": "VET IKKE", "b": "VIL IKKE SVARE"}


def test_long_text_goes_to_strl_and_reads_back_whole(tmp_path: Path) -> None:
    long = "Æøå og mer: " + "blåbærsyltetøy " * 150  # beyond 2045 bytes in UTF-8
    assert len(long.encode("utf-8")) > 2045
    texts = [long, "kort", None, "", long + "!"]
    dataset = Dataset(
        "T",
        [Variable("ID", role="key"), Variable("XA90_TEKST", "Fritekst", type="string")],
        {"ID": [1, 2, 3, 4, 5], "XA90_TEKST": texts},
    )
    path = written(tmp_path, dataset)
    assert storage_types(path) == ["byte", "strL"]
    frame, meta = pyreadstat.read_dta(path, output_format="dict")
    assert list(frame["XA90_TEKST"]) == [long, "kort", "", "", long + "!"]
    assert meta.original_variable_types["XA90_TEKST"] == "%9s"
    assert list(pd.read_stata(path)["XA90_TEKST"]) == [long, "kort", "", "", long + "!"]


def test_text_takes_the_width_of_its_widest_utf8_value(tmp_path: Path) -> None:
    dataset = Dataset(
        "T", [Variable("A", type="string"), Variable("B", type="string")], {"A": ["ø", "ab"], "B": ["", None]}
    )
    path = written(tmp_path, dataset)
    assert storage_types(path) == ["str2", "str1"]  # "ø" is two bytes; an empty column takes one
    assert list(pd.read_stata(path)["A"]) == ["ø", "ab"]


def test_a_column_of_nulls_only_is_a_byte_of_system_missing(tmp_path: Path) -> None:
    items = [Variable("X", value_labels={-1: "IKKE BESVART"}, missing_codes=(-1,)), Variable("Y")]
    path = written(tmp_path, Dataset("T", items, {"X": [None, None, -1], "Y": [None, None, None]}))
    assert storage_types(path) == ["byte", "byte"]
    frame, _ = pyreadstat.read_dta(path, user_missing=True, output_format="dict")
    assert list(frame["X"]) == [None, None, "a"]
    assert list(frame["Y"]) == [None, None, None]
    letters = pd.read_stata(path, convert_missing=True, convert_categoricals=False)
    assert missing_letters(list(letters["X"])) == [".", ".", ".a"]
    assert missing_letters(list(letters["Y"])) == [".", ".", "."]


def test_an_empty_dataset_keeps_its_variables_labels_and_types(tmp_path: Path) -> None:
    path = written(tmp_path, ung18({name: [] for name in COLUMNS}))
    assert storage_types(path) == ["byte", "str1", "byte", "byte", "byte", "byte", "byte", "byte", "byte"]
    frame, meta = pyreadstat.read_dta(path, output_format="dict")
    assert list(frame) == list(COLUMNS) and all(len(v) == 0 for v in frame.values())
    assert meta.number_rows == 0
    assert meta.variable_value_labels["XA24"][1] == "JA"
    assert len(pd.read_stata(path)) == 0


def test_rows_beyond_one_block_read_back_in_order(tmp_path: Path) -> None:
    rows = 150_000  # more than two blocks of 65,536 rows
    columns = {
        "ID": list(range(rows)),
        "XA24": [(i % 3) or -1 for i in range(rows)],
        "T": [f"r{i % 7}" for i in range(rows)],
    }
    items = [
        Variable("ID"),
        Variable("XA24", value_labels=YES_NO, missing_codes=(-1, -2)),
        Variable("T", type="string"),
    ]
    path = written(tmp_path, Dataset("T", items, columns))
    frame, _ = pyreadstat.read_dta(path, user_missing=True, output_format="dict")
    assert list(frame["ID"]) == columns["ID"]
    assert list(frame["XA24"]) == [v if v > 0 else "a" for v in columns["XA24"]]
    assert list(frame["T"]) == columns["T"]


def test_the_map_points_at_each_section_and_the_header_holds_the_time_stamp(tmp_path: Path) -> None:
    at = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    path = written(tmp_path, ung18(), timestamp=at)
    data = path.read_bytes()
    start = data.index(b"<map>") + len(b"<map>")
    offsets = struct.unpack_from("<14Q", data, start)
    tags = [
        b"<stata_dta>",
        b"<map>",
        b"<variable_types>",
        b"<varnames>",
        b"<sortlist>",
        b"<formats>",
        b"<value_label_names>",
        b"<variable_labels>",
        b"<characteristics>",
        b"<data>",
        b"<strls>",
        b"<value_labels>",
        b"</stata_dta>",
    ]
    for offset, tag in zip(offsets, tags, strict=False):
        assert data[offset : offset + len(tag)] == tag
    assert offsets[-1] == len(data)
    assert b"<release>118</release><byteorder>LSF</byteorder>" in data
    assert b"<timestamp>\x1115 Jan 2026 10:30</timestamp>" in data  # Norwegian time
    with StataReader(path) as reader:
        assert reader.time_stamp == "15 Jan 2026 10:30"
