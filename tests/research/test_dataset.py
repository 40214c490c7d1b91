from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from engagement.questionnaires.definition import truncate_utf8
from engagement.research.dataset import Dataset, InvalidDataset, Variable

from .helpers import COLUMNS, ung18


def one(variable: Variable, values: object) -> Dataset:
    return Dataset("T", [variable], {variable.name: values})


def test_columns_are_stored_in_the_narrowest_type() -> None:
    dataset = ung18()
    types = {f.name: f.type for f in dataset.table.schema}
    assert types["XA24"] == pa.int8()
    assert types["XA40"] == pa.int16()
    assert types["UNG_ID_PDB9999"] == pa.int32()
    assert types["XA46"] == pa.float64()
    assert types["VERSJON_UNG18_TBL1"] == pa.string()


def test_whole_floats_and_nan_become_small_integers_and_missing() -> None:
    dataset = one(Variable("XA10"), np.array([1.0, np.nan, 5.0]))
    assert dataset.table.schema.field("XA10").type == pa.int8()
    assert dataset.column("XA10").to_pylist() == [1, None, 5]


def test_a_hundred_thousand_likert_answers_take_about_a_byte_each() -> None:
    values = np.random.default_rng(1).integers(1, 6, 100_000)
    dataset = one(Variable("XA10"), values)
    assert dataset.table.nbytes < 110_000


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1XA", "must start with a letter"),
        ("XA_ÆØÅ", "must start with a letter and hold only"),
        ("X" * 33, "Stata allows at most 32"),
        ("with", "reserved word"),
        ("_n", "must start with a letter"),
    ],
)
def test_names_that_spss_or_stata_refuse_are_rejected_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(InvalidDataset, match=reason):
        one(Variable(name), [1])


def test_variable_label_over_255_bytes_is_rejected_not_truncated() -> None:
    with pytest.raises(InvalidDataset, match="variable label is 256 bytes; SPSS keeps 255"):
        one(Variable("XA10", "Æ" * 128), [1])


def test_value_label_over_120_bytes_is_rejected() -> None:
    with pytest.raises(InvalidDataset, match="value label for 1 is 122 bytes"):
        one(Variable("XA10", value_labels={1: "Ø" * 61}), [1])


def test_truncation_cuts_at_a_character_boundary_and_marks_the_cut() -> None:
    cut = truncate_utf8("Æ" * 200, 255)
    assert cut.endswith(".....")
    assert len(cut.encode()) <= 255
    assert cut.encode().decode() == cut
    assert truncate_utf8("kort", 255) == "kort"


def test_codes_must_be_integers_for_stata() -> None:
    with pytest.raises(InvalidDataset, match=r"code 1\.5 is not an integer"):
        one(Variable("XA10", value_labels={1.5: "HALV"}), [1])


def test_string_variables_cannot_carry_value_labels_or_missing_codes() -> None:
    with pytest.raises(InvalidDataset, match="string variable cannot carry value labels"):
        one(Variable("S", type="string", value_labels={"a": "A"}), ["a"])


def test_more_than_three_missing_codes_must_form_a_range_and_one_code_without_real_codes() -> None:
    labels = {1: "JA", -1: "A", -2: "B", 5: "D", 6: "E"}
    with pytest.raises(InvalidDataset, match=r"would also hide a real code \[1\]"):
        one(Variable("XA10", value_labels=labels, missing_codes=(-1, -2, 5, 6)), [1])
    ok = Variable("XA10", value_labels={1: "JA"}, missing_codes=(-1, -2, -3, -4))
    assert one(ok, [1]).num_rows == 1
    assert ok.spss_missing() == [{"lo": -4, "hi": -1}]
    split = Variable("XA10", value_labels={1: "JA", 5: "D"}, missing_codes=(-2, -4, 5, -3))
    assert split.spss_missing() == [{"lo": -4, "hi": -2}, 5]
    assert split.spss_missing(present=[-3.5]) is None  # a real value inside every possible range


def test_dates_are_refused_in_favour_of_ages() -> None:
    with pytest.raises(InvalidDataset, match="deliver ages instead"):
        one(Variable("XA85"), pa.array([date(2024, 1, 1)]))


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidDataset) as caught:
        Dataset("T", [Variable("1A"), Variable("B", "x" * 300)], {"1A": [1], "B": [1], "C": [2]})
    problems = caught.value.extra["problems"]
    assert len(problems) == 3
    assert any("undeclared variables C" in p for p in problems)


def test_columns_of_different_length_are_rejected() -> None:
    columns = dict(COLUMNS, XA24=[1, 2])
    with pytest.raises(InvalidDataset, match="columns differ in length"):
        ung18(columns)


def test_primary_key_must_be_unique_and_present() -> None:
    key = "UNG_ID_PDB9999"
    with pytest.raises(InvalidDataset, match="primary key UNG_ID_PDB9999 repeats"):
        ung18(dict(COLUMNS, **{key: [1_000_001] * 5}))
    with pytest.raises(InvalidDataset, match="primary key value is missing"):
        ung18(dict(COLUMNS, **{key: [1_000_001, None, 3_000_000, 4_000_000, 5_000_000]}))


def test_rows_are_counted_per_questionnaire_version() -> None:
    assert ung18().rows_per_version() == {"UNG18_A": 3, "UNG18_B": 2}


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0, np.nan, 5.0]),
        np.array([1, 2, 3], dtype=np.float32),
        np.array([0.5, np.nan, 2.0]),
        np.array([np.nan, np.nan]),
        np.array([], dtype=np.float64),
        np.array([-200, 3, 70_000], dtype=np.int64),
        np.array([2.0**31, np.nan]),
        np.array([2.0**40, -1.0]),
        np.array([-0.0, 127.0, -128.0], dtype=np.float32),
        np.array([1_000_000, 2_147_483_620], dtype=np.int64),
        np.array([1, 2_147_483_621], dtype=np.int64),
    ],
)
def test_a_numpy_column_is_stored_as_the_same_numbers_given_as_a_list(values: np.ndarray) -> None:
    from_numpy = one(Variable("XA10"), values).column("XA10")
    from_list = one(Variable("XA10"), [None if v != v else v.item() for v in values]).column("XA10")
    assert from_numpy.type == from_list.type
    assert from_numpy.to_pylist() == from_list.to_pylist()


@pytest.mark.parametrize("values", [np.array([1.0, np.inf]), np.array([2**60, 1], dtype=np.int64)])
def test_infinity_and_integers_beyond_2_53_are_refused_from_numpy_as_from_a_list(values: np.ndarray) -> None:
    for given in (values, values.tolist()):
        with pytest.raises(InvalidDataset):
            one(Variable("XA10"), given)


def test_an_arrow_nan_that_is_not_null_is_refused_while_a_null_is_missing() -> None:
    with pytest.raises(InvalidDataset):
        one(Variable("XA10"), pa.array([1.0, float("nan")]))
    assert one(Variable("XA10"), pa.array([1.0, None])).column("XA10").to_pylist() == [1, None]
