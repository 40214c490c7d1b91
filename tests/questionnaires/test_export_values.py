"""A submission packs the numbers of its normalised answers into ``response.export_values``."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from engagement.dev.demo import ung18_answers
from engagement.extensions import db
from engagement.questionnaires import definition as qdef
from engagement.questionnaires import services
from engagement.questionnaires.models import Answer, Response
from tests.questionnaires.conftest import TINY_ANSWERS


def _submit(
    app: Any, make_task: Any, participant: Any, key: str, version: int, answers: dict[str, Any]
) -> Any:
    task = make_task(participant, key, version)
    with app.app_context():
        response, _ = services.submit(participant.id, task.id, uuid.uuid4(), answers)
        db.session.commit()
        return response.id


def _packed_and_normalised(response_id: uuid.UUID) -> tuple[list[str], list[Any], dict[str, float | None]]:
    response = db.session.get(Response, response_id)
    assert response is not None
    layout = services.export_layout(services.definition_of(response.questionnaire_version))
    packed = db.session.scalar(sa.select(Response.export_values).where(Response.id == response_id))
    rows = db.session.execute(
        sa.select(Answer.variable, Answer.value_number).where(Answer.response_id == response_id)
    )
    return layout, list(packed or []), dict(rows.all())


def _number(value: Any) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@pytest.mark.parametrize(
    ("key", "version", "answers"),
    [
        ("tiny", 1, TINY_ANSWERS),
        ("ung18", 1, ung18_answers(1)),
        ("ung18", 2, ung18_answers(2)),
    ],
    ids=["tiny", "ung18-v1", "ung18-v2"],
)
def test_packed_export_values_equal_the_normalised_answer_numbers(
    app, make_task, make_participant, key, version, answers
):
    response_id = _submit(app, make_task, make_participant(), key, version, answers)
    with app.app_context():
        layout, packed, normalised = _packed_and_normalised(response_id)
        assert len(packed) == len(layout) == len(set(layout))
        assert set(normalised) <= set(layout)  # every answer row has its place in the layout
        assert {v: _number(n) for v, n in zip(layout, packed, strict=True)} == {
            v: normalised.get(v) for v in layout
        }
        assert any(_number(n) is not None for n in packed)
        assert any(_number(n) is None for n in packed)  # hidden, unanswered or text-only variables


def test_the_layout_is_every_export_variable_of_the_version_in_order(app, published):
    with app.app_context():
        for key, number in published:
            definition = services.definition_of(services.get_version(key, number))
            expected = [v for item in qdef.iter_items(definition) for v in qdef.export_variables(item)]
            assert services.export_layout(definition) == expected
            multiple = [i for i in qdef.iter_items(definition) if i["type"] == "multiple_choice"]
            assert all(o["variable"] in expected for i in multiple for o in i["options"])
