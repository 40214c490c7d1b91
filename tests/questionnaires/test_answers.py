"""``enable_when`` and the checks of answers (``engagement.questionnaires.answers``), on the tiny definition."""

from __future__ import annotations

from datetime import date

import pytest

from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef
from tests.questionnaires.conftest import TINY, TINY_ANSWERS, tiny

# ------------------------------------------------------------------------------ enable_when


def shown(answers):
    return qanswers.enabled_items(qdef.normalise(TINY), answers)


@pytest.mark.parametrize(
    ("answers", "name", "expected"),
    [
        ({"TT10": 1}, "TT30", True),  # =
        ({"TT10": 2}, "TT30", False),
        ({"TT10": 2}, "TT31", True),  # !=
        ({"TT10": 1}, "TT31", False),
        ({}, "TT31", False),  # no answer satisfies nothing but exists=false
        ({"TT15": 191}, "TT32", True),  # >
        ({"TT15": 190}, "TT32", False),
        ({"TT15": 999}, "TT32", False),  # a special answer does not compare
        ({"TT15": 149}, "TT33", True),  # <
        ({"TT16": 8}, "TT34", True),  # >=
        ({"TT16": 7.5}, "TT34", False),
        ({"TT19": "22:00"}, "TT35", True),  # <= on times
        ({"TT19": "23:30"}, "TT35", False),
        ({"TT16": 0}, "TT36", True),  # exists
        ({}, "TT36", False),
        ({"TT11": [2]}, "TT37", True),  # any, on multiple choice (= means ticked)
        ({"TT11": [3]}, "TT37", False),
        ({"TT10": 1, "TT30": True}, "TT38", True),  # chained
        ({"TT10": 2, "TT30": True}, "TT38", False),  # TT30 is hidden, so its answer does not count
    ],
)
def test_enable_when_operators(answers, name, expected):
    assert (name in shown(answers)) is expected


def test_exists_false_and_all_behaviour():
    definition = tiny()
    items = definition["sections"][0]["items"]
    items[16]["enable_when"] = [
        {"item": "TT16", "operator": "exists", "answer": False},
        {"item": "TT10", "operator": "=", "answer": 1},
    ]
    definition = qdef.normalise(definition)
    assert "TT36" in qanswers.enabled_items(definition, {"TT10": 1})
    assert "TT36" not in qanswers.enabled_items(definition, {"TT10": 1, "TT16": 3})
    assert "TT36" not in qanswers.enabled_items(definition, {"TT10": 2})


# ------------------------------------------------------------------------------ answers


def validate(answers, today=date(2026, 11, 29)):
    return qanswers.validate_answers(qdef.normalise(TINY), answers, today=today)


def test_a_complete_valid_answer_set_passes():
    assert validate(TINY_ANSWERS) == {}


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("TT10", "1", "must be an option code"),
        ("TT10", 4, "is not one of the codes"),
        ("TT11", 1, "must be a list of option codes"),
        ("TT11", [1, 4], "are not among the codes"),
        ("TT11", [1, 1], "an option is given twice"),
        ("TT14", True, "must be an option code"),
        ("TT15", 99, "must be between 100 and 230"),
        ("TT15", 170.5, "must be a whole number"),
        ("TT16", 7.3, "must be in steps of 0.5"),
        ("TT16", "7", "must be a number"),
        ("TT17", "2020-13", "must be YYYY-MM"),
        ("TT17", "1999-12", "must be between 2000-01"),
        ("TT17", "2027-01", "must not be in the future"),
        ("TT18", "2023-02-29", "must be YYYY-MM-DD"),
        ("TT18", "2031-01-01", "must be between"),
        ("TT19", "24:00", "must be HH:MM"),
        ("TT20", 1, "must be true or false"),
        ("TT21_TEKST", "x" * 21, "at most 20 characters"),
        ("TT21_TEKST", 5, "must be a string"),
    ],
)
def test_each_type_rejects_what_it_does_not_accept(name, value, reason):
    errors = validate({**TINY_ANSWERS, name: value})
    assert list(errors) == [name] and reason in errors[name][0], errors


@pytest.mark.parametrize(("name", "value"), [("TT15", 999), ("TT17", 99), ("TT14", 9), ("TT15", 170.0)])
def test_special_answers_and_whole_floats_are_accepted(name, value):
    assert validate({**TINY_ANSWERS, name: value}) == {}


def test_every_problem_is_reported_at_once_per_item():
    answers = {**TINY_ANSWERS, "TT15": 10, "TT31": True, "NOPE": 1}
    del answers["TT20"]
    errors = validate(answers)
    assert errors == {
        "NOPE": ["not an item of this questionnaire version"],
        "TT15": ["must be between 100 and 230"],
        "TT20": ["required"],
        "TT31": ["answered, but the item is not shown given the other answers"],
    }


def test_required_items_that_are_hidden_are_not_required():
    answers = {**TINY_ANSWERS, "TT10": 2, "TT31": True}
    del answers["TT30"]
    assert validate(answers) == {}
    del answers["TT31"]
    assert validate(answers) == {"TT31": ["required"]}


def test_a_draft_is_checked_for_type_only():
    definition = qdef.normalise(TINY)
    assert qanswers.check_draft(definition, {"TT15": 5, "TT10": 3}) == {}  # out of range, unknown code: fine
    assert qanswers.check_draft(definition, {"TT15": "tall", "NOPE": 1}) == {
        "TT15": ["must be a whole number"],
        "NOPE": ["not an item of this questionnaire version"],
    }


def test_answer_rows_are_the_export_shape():
    rows = {r[1]: r for r in qanswers.answer_rows(qdef.normalise(TINY), TINY_ANSWERS)}
    assert [rows[v][2] for v in ("TT11", "TT12", "TT13")] == [1.0, 0.0, 1.0]  # one 0/1 per option
    assert rows["TT19"][2:] == (315.0, "23:15")  # minutes after 18:00
    assert rows["TT20"][2] == 1.0  # yes = 1 by default
    assert rows["TT30"][2] == 2.0  # no = 2
    assert rows["TT17"][2:] == (None, "2020-08")
    assert rows["TT16"][2] == 7.5
    assert "TT31" not in rows
