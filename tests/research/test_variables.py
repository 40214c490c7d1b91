"""The variables of the real questionnaire files: declared missing codes, reasons, harmonised labels and order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engagement.questionnaires import definition as qdef
from engagement.research import variables as rv

FOLDER = Path(__file__).resolve().parents[2] / "questionnaires" / "ung18"


@pytest.fixture(scope="module")
def definitions() -> list[dict[str, Any]]:
    return [qdef.load(FOLDER / "v1.yaml"), qdef.load(FOLDER / "v2.yaml")]


def test_special_answers_and_options_with_a_kind_are_declared_missing(
    definitions: list[dict[str, Any]],
) -> None:
    variables = {c.variable.name: c.variable for c in rv.item_columns(definitions[0])}
    assert variables["XA40"].missing_codes == (999,)  # VET IKKE HØYDEN MIN
    assert variables["XA40"].value_labels[999] == "VET IKKE HØYDEN MIN"
    assert variables["XA37"].missing_codes == (5, 6)  # VET IKKE, ØNSKER IKKE Å SVARE
    assert variables["XA37"].valid_codes() == [1, 2, 3, 4]
    assert variables["XA38"].missing_codes == (5,)
    assert variables["XA42"].missing_codes == ()  # no special answer, no condition
    assert variables["XA32"].missing_codes == ()


def test_an_item_with_a_condition_declares_the_not_shown_reason(definitions: list[dict[str, Any]]) -> None:
    variables = {c.variable.name: c.variable for c in rv.item_columns(definitions[0])}
    assert variables["XA33"].missing_codes == (99, rv.NOT_SHOWN)
    assert variables["XA33"].value_labels[rv.NOT_SHOWN] == rv.REASON_LABELS[rv.NOT_SHOWN]
    for option in ("XA26", "XA31"):  # each tick box of a conditional multiple choice
        assert variables[option].missing_codes == (rv.NOT_SHOWN,)
        assert variables[option].valid_codes() == [0, 1]
    assert rv.NOT_SHOWN != rv.NOT_IN_VERSION


def test_the_harmonised_table_reads_like_the_newest_version(definitions: list[dict[str, Any]]) -> None:
    harmonised = {h.variable.name: h.variable for h in rv.harmonise(definitions)}
    names = list(harmonised)
    newest = list(dict.fromkeys(c.variable.name for c in rv.item_columns(definitions[1])))
    kept = [n for n in names if n in newest or n == "XA77"]  # XA83 (v2) is harmonised into XA77
    assert [n for n in newest if n in harmonised] == [n for n in kept if n in newest]
    xa77 = harmonised["XA77"]
    assert xa77.label == "BRUKER DU E-SIGARETT ELLER VAPE?"
    assert ":" not in xa77.label and "UNG18_" not in xa77.label
    assert xa77.versions == ("UNG18_A", "UNG18_B")
    assert xa77.wording == {"UNG18_A": "Bruker du e-sigarett?", "UNG18_B": "Bruker du e-sigarett eller vape?"}
    assert harmonised["XA42"].wording == {}  # the same wording in every version
    dropped = harmonised["XA46"]  # asked in v1 only
    assert dropped.versions == ("UNG18_A",)
    assert rv.NOT_IN_VERSION in dropped.missing_codes
    assert dropped.value_labels[rv.NOT_IN_VERSION] == rv.REASON_LABELS[rv.NOT_IN_VERSION]
    assert names.index("XA46") == names.index("XA45") + 1  # where it stood in the version that asked it
    assert rv.NOT_IN_VERSION not in harmonised["XA40"].missing_codes  # asked in both
    assert harmonised["XA40"].missing_codes == (999,)
