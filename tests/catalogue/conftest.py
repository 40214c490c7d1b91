"""Fixtures of the catalogue tests: the seed questionnaires published, responses submitted."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from engagement import clock
from engagement.dev.demo import ung18_answers
from engagement.extensions import db
from engagement.questionnaires import services as questionnaires
from tests.conftest import ROOT


@pytest.fixture
def ung18(app: Any) -> dict[int, Any]:
    """The seed questionnaire ung18 (v1 and v2), published in the test's transaction."""
    with app.app_context():
        questionnaires.publish_all(ROOT / "questionnaires")
        db.session.commit()
        return {v: questionnaires.get_version("ung18", v) for v in (1, 2)}


@pytest.fixture
def answer(app: Any, ung18: dict[int, Any]) -> Callable[..., uuid.UUID]:
    """``answer(participant, version=1, at=None)``: a submitted response; returns its id."""

    def submit(participant: Any, version: int = 1, at: datetime | None = None) -> uuid.UUID:
        with app.app_context(), clock.frozen(at or clock.now()):
            task = questionnaires.create_task(participant.id, ung18[version])
            response, _ = questionnaires.submit(participant.id, task.id, uuid.uuid4(), ung18_answers(version))
            db.session.commit()
            return response.id

    return submit
