"""The definition layer alone (no Flask, no database): files, rules, conditions, answers, diffs."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import versions as qversions
from engagement.versioned import content_hash
from tests.questionnaires.conftest import SEED_FOLDER, TINY, TINY_ANSWERS, option, t, tiny, write_definition


def rules(definition):
    problems = qdef.check_schema(definition, "x.yaml")
    return problems or qdef.check_rules(definition, "x.yaml")


def reasons(definition):
    return [f"{p.item}: {p.reason}" for p in rules(definition)]


def item(definition, name):
    return qdef.items_by_name(definition)[name]


# ------------------------------------------------------------------------------ seed content


def test_seed_files_pass_every_check():
    result = qversions.check_folder(SEED_FOLDER)
    assert result.problems == []
    assert set(result.definitions) == {("ung18", 1), ("ung18", 2)}


def test_seed_v1_has_about_75_exported_variables_over_seven_sections():
    v1 = qversions.check_folder(SEED_FOLDER).definitions[("ung18", 1)]
    exported = [v for i in qdef.iter_items(v1) if i["exported"] for v in qdef.export_variables(i)]
    assert 70 <= len(exported) <= 80
    assert len(v1["sections"]) == 7
    assert {"XA23_TEKST", "XA90_TEKST"}.isdisjoint(exported)  # free text is not exported
    scales = {i["scale"]["id"] for i in qdef.iter_items(v1) if "scale" in i}
    assert scales == {"SCL5", "SWLS", "SMFQ", "AUDITC"}
    assert {i["type"] for i in qdef.iter_items(v1)} == {
        "single_choice",
        "multiple_choice",
        "likert",
        "integer",
        "decimal",
        "year_month",
        "date",
        "time",
        "yes_no",
        "text",
    }


def test_seed_v2_declares_its_lineage_and_diff_says_what_breaks():
    found = qversions.check_folder(SEED_FOLDER).definitions
    changes = {c.item: c for c in qversions.diff(found[("ung18", 1)], found[("ung18", 2)])}
    assert changes["XA47"].change == "added" and "XA42" in changes["XA47"].note
    assert changes["XA42"].change == "removed" and not changes["XA42"].breaks_comparability
    assert changes["XA46"].change == "removed" and changes["XA46"].breaks_comparability
    assert changes["XA83"].note == "same question as XA77"
    assert changes["XA24"].change == "changed" and changes["XA24"].fields == ("text.en",)
    assert not changes["XA24"].breaks_comparability


# ------------------------------------------------------------------------------ schema and rules


def test_tiny_definition_passes():
    assert rules(TINY) == []


def test_a_text_missing_a_language_is_reported_with_its_item():
    definition = tiny()
    del definition["sections"][0]["items"][0]["text"]["nn"]
    problems = rules(definition)
    assert [p.item for p in problems] == ["TT10"]
    assert "'nn' is a required property" in problems[0].reason


def test_unknown_fields_and_bad_variable_names_are_schema_problems():
    definition = tiny()
    definition["sections"][0]["items"][0]["colour"] = "red"
    definition["sections"][0]["items"][1]["name"] = "tt11"
    assert len(rules(definition)) >= 2


def test_item_names_and_export_variables_are_unique():
    definition = tiny()
    items = definition["sections"][0]["items"]
    items[4]["name"] = "TT15"  # the decimal takes the integer's name
    items[1]["options"][2]["variable"] = "TT10"  # an option variable takes another item's name
    found = reasons(definition)
    assert any("TT15: item name used twice" in r for r in found)
    assert any("export variable TT10 is already used by TT10" in r for r in found)


def test_option_codes_are_unique_within_an_item_including_special_answers():
    definition = tiny()
    items = definition["sections"][0]["items"]
    items[0]["options"][1]["code"] = 1
    items[3]["special_answers"][0]["code"] = 999
    items[3]["special_answers"].append({"code": 999, "kind": "dont_know", "label": "X", "text": t("x")})
    found = reasons(definition)
    assert "TT10: option codes used twice: [1]" in found
    assert "TT15: option codes used twice: [999]" in found


def test_export_variables_carry_the_prefix():
    definition = tiny()
    definition["sections"][0]["items"][1]["options"][0]["variable"] = "XA11"
    assert "TT11: export variable XA11 does not start with the prefix TT" in reasons(definition)


def test_multiple_choice_options_need_their_own_variable():
    definition = tiny()
    del definition["sections"][0]["items"][1]["options"][0]["variable"]
    assert any("needs its export variable" in r for r in reasons(definition))


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ({"item": "TT38", "operator": "=", "answer": True}, "not an earlier item"),
        ({"item": "NOPE", "operator": "=", "answer": 1}, "not an earlier item"),
        ({"item": "TT10", "operator": "=", "answer": 7}, "not an option code of TT10"),
        ({"item": "TT10", "operator": ">", "answer": 1}, "operator > does not apply to TT10"),
        ({"item": "TT20", "operator": "=", "answer": 1}, "must be true or false"),
        ({"item": "TT15", "operator": ">", "answer": "tall"}, "must be a number"),
        ({"item": "TT17", "operator": "<", "answer": "2020-13"}, "is not a year_month value"),
        ({"item": "TT16", "operator": "exists", "answer": 1}, "needs answer true or false"),
    ],
)
def test_conditions_refer_to_earlier_items_with_compatible_answers(condition, reason):
    definition = tiny()
    definition["sections"][0]["items"][10]["enable_when"] = [condition]
    found = reasons(definition)
    assert any(r.startswith("TT30:") and reason in r for r in found), found


def test_labels_stay_within_spss_limits_in_bytes():
    definition = tiny()
    items = definition["sections"][0]["items"]
    items[0]["label"] = "Æ" * 128  # 256 bytes
    items[0]["options"][0]["label"] = "Ø" * 61  # 122 bytes
    found = reasons(definition)
    assert any("variable label is longer than 255 bytes" in r for r in found)
    assert any("longer than 120 bytes" in r for r in found)
    items[0]["label"] = "Æ" * 127
    items[0]["options"][0]["label"] = "Ø" * 60
    assert reasons(definition) == []


def test_special_answer_codes_lie_outside_the_range():
    definition = tiny()
    definition["sections"][0]["items"][3]["special_answers"][0]["code"] = 150
    assert any("lies inside the range" in r for r in reasons(definition))


def test_undeclared_scales_and_option_sets_are_reported():
    definition = tiny()
    items = definition["sections"][0]["items"]
    items[2]["scale"]["id"] = "NOPE"
    del items[0]["options"]
    items[0]["option_set"] = "nope"
    found = reasons(definition)
    assert any("scale 'NOPE' is not declared" in r for r in found)
    assert any("option_set 'nope' is not defined" in r for r in found)


def test_type_specific_fields_are_refused_on_other_types():
    definition = tiny()
    definition["sections"][0]["items"][0]["min"] = 1  # a choice item has no range
    definition["sections"][0]["items"][8]["max_length"] = 3  # yes_no has no length
    assert len(rules(definition)) >= 2


def test_file_must_live_at_key_and_version(tmp_path):
    path = write_definition(tmp_path, tiny())
    wrong = path.with_name("v2.yaml")
    path.rename(wrong)
    with pytest.raises(qdef.DefinitionError) as caught:
        qdef.load(wrong, root=tmp_path)
    assert "file says version 1 but is named v2.yaml" in str(caught.value)


def test_invalid_yaml_is_one_problem_naming_the_file(tmp_path):
    path = tmp_path / "tiny" / "v1.yaml"
    path.parent.mkdir()
    path.write_text("key: [unclosed\n")
    result = qversions.check_folder(tmp_path)
    assert len(result.problems) == 1 and result.problems[0].file == "tiny/v1.yaml"


# ------------------------------------------------------------------------------ lineage


def _v2(**changes):
    definition = tiny(version=2, version_label="TINY_B")
    items = definition["sections"][0]["items"]
    for name, fields in changes.items():
        target = next(i for i in items if i["name"] == name)
        target.update(fields)
    return definition


def test_reusing_a_name_for_a_changed_question_is_refused():
    v2 = _v2(TT15={"max": 250})
    problems = qversions.check_lineage(qdef.normalise(v2), {1: qdef.normalise(TINY)}, "tiny/v2.yaml")
    assert [p.item for p in problems] == ["TT15"]
    assert "changed (max)" in problems[0].reason


def test_translation_fixes_keep_the_name():
    v2 = _v2(TT15={"text": {**TINY["sections"][0]["items"][3]["text"], "en": "Your height"}})
    assert qversions.check_lineage(qdef.normalise(v2), {1: qdef.normalise(TINY)}, "v2") == []


def test_same_as_and_recoded_from_must_name_a_compatible_earlier_variable():
    v2 = _v2(
        TT14={"name": "TT40", "same_as": "TT10"},  # likert vs single choice: not the same
        TT10={"name": "TT41", "recoded_from": {"variable": "TT10", "codes": {"1": 1, "4": 2}}},
    )
    v2["sections"][0]["items"][10]["enable_when"][0]["item"] = "TT41"
    problems = qversions.check_lineage(qdef.normalise(v2), {1: qdef.normalise(TINY)}, "v2")
    found = [f"{p.item}: {p.reason}" for p in problems]
    assert any(r.startswith("TT40: same_as TT10: type or codes differ") for r in found)
    assert "TT41: recode: 4 is not a code of TT10" in found
    unknown = _v2(TT14={"name": "TT40", "same_as": "XX99"})
    assert (
        "not in an earlier version"
        in qversions.check_lineage(qdef.normalise(unknown), {1: TINY}, "v2")[0].reason
    )


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


def test_truncate_label_cuts_at_a_character_boundary():
    cut = qdef.truncate_utf8("Æ" * 200, 255)
    assert cut.endswith(".....") and len(cut.encode()) <= 255
    cut.encode().decode("utf-8")
    assert qdef.truncate_utf8("kort", 255) == "kort"


def test_localise_replaces_every_text():
    nn = qdef.localise(qdef.normalise(TINY), "nn")
    assert nn["title"] == "Tiny (nn)"
    assert nn["sections"][0]["items"][0]["options"][0]["text"] == "kvinne (nn)"


def test_content_hash_ignores_formatting_but_not_content():
    reordered = copy.deepcopy(TINY)
    reordered = dict(reversed(list(reordered.items())))
    assert content_hash(qdef.normalise(reordered)) == content_hash(qdef.normalise(TINY))
    changed = tiny(title=t("Other"))
    assert content_hash(qdef.normalise(changed)) != content_hash(qdef.normalise(TINY))


def test_option_helper_is_used_consistently():
    assert option(1, "JA")["text"]["en"] == "ja"
