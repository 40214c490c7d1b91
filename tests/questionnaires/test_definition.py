"""The definition layer alone (no Flask, no database): the seed files, schema and rules, labels, localising
(lineage across versions: test_versions.py; conditions and answers: test_answers.py)."""

from __future__ import annotations

import copy

import pytest

from engagement.questionnaires import definition as qdef
from engagement.questionnaires import versions as qversions
from engagement.versioned import content_hash
from tests.questionnaires.conftest import SEED_FOLDER, TINY, option, t, tiny, write_definition


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
