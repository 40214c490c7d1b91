"""Lineage across versions of a key (``engagement.questionnaires.versions``), on the tiny definition."""

from __future__ import annotations

from engagement.questionnaires import definition as qdef
from engagement.questionnaires import versions as qversions
from tests.questionnaires.conftest import TINY, tiny


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
