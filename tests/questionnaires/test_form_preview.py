"""A questionnaire answered through an HTML form is judged by the same rules as a submission."""

from datetime import date

from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef
from tests.conftest import ROOT

UNG18_V2 = qdef.load(ROOT / "questionnaires" / "ung18" / "v2.yaml", root=ROOT / "questionnaires")


def test_form_fields_become_answers_of_the_item_types():
    form = {
        "XA10": ["13", "2"],
        "XA23_TEKST": [" frilans i bandet "],
        "XA24": ["true"],
        "XA32": ["1"],
        "XA33": ["14"],
        "XA35": [""],
        "XA35.special": ["99"],
        "XA34": ["1.5"],
        "not_an_item": ["1"],
    }
    answers = qanswers.answers_from_form(UNG18_V2, form)
    assert answers == {
        "XA10": [13, 2],
        "XA23_TEKST": " frilans i bandet ",
        "XA24": True,
        "XA32": 1,
        "XA33": 14,
        "XA35": 99,
        "XA34": "1.5",  # not a whole number: kept as typed, for the type check to report
    }


def test_a_condition_turns_an_item_on_and_the_check_is_the_submissions():
    shown = qanswers.preview(UNG18_V2, {"XA10": ["2"]}, check=False)
    assert "XA23_TEKST" not in shown.enabled and shown.errors == {}
    other = qanswers.preview(UNG18_V2, {"XA10": ["13"]}, check=False)
    assert "XA23_TEKST" in other.enabled

    form = {"XA10": ["13"], "XA32": ["1"], "XA33": ["25"], "XA34": ["x"]}
    checked = qanswers.preview(UNG18_V2, form, check=True, today=date(2026, 12, 7))
    answers = qanswers.answers_from_form(UNG18_V2, form)
    assert checked.errors == qanswers.validate_answers(UNG18_V2, answers, today=date(2026, 12, 7))
    assert checked.errors["XA33"] == ["must be between 8 and 19"]
    assert checked.errors["XA24"] == ["required"]
    assert "must be a whole number" in checked.errors["XA34"]
    draft = qanswers.preview(UNG18_V2, form, check=False)
    assert draft.errors == {"XA34": ["must be a whole number"]}  # a draft checks types only
