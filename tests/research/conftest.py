"""Fixtures of the extract tests: the seed questionnaires published, responses submitted, projects made."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from engagement import clock
from engagement.dev.demo import ung18_answers
from engagement.extensions import db
from engagement.questionnaires import answers as qanswers
from engagement.questionnaires import services as questionnaires
from engagement.research import downloads, extraction, projects
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
    """``answer(participant, version=1, at=None, **changes)``: a submitted response; returns its id."""

    def submit(participant: Any, version: int = 1, at: datetime | None = None, **changes: Any) -> uuid.UUID:
        answers = ung18_answers(version, **changes)
        with app.app_context(), clock.frozen(at or clock.now()):
            task = questionnaires.create_task(participant.id, ung18[version])
            definition = questionnaires.definition_of(task.questionnaire_version)
            assert qanswers.validate_answers(definition, answers) == {}
            response, _ = questionnaires.submit(participant.id, task.id, uuid.uuid4(), answers)
            db.session.commit()
            return response.id

    return submit


@pytest.fixture
def make_project(app: Any, ung18: Any) -> Callable[..., str]:
    """``make_project(code, members=(), purposes=("participation",))``; returns the code."""

    def build(
        code: str | None = None,
        members: tuple[uuid.UUID, ...] = (),
        purposes: tuple[str, ...] = ("participation",),
    ) -> str:
        with app.app_context():
            project = projects.create_project(
                code=code or f"PDB{uuid.uuid4().int % 10**6:06d}",
                title="Helse og hverdag ved 18 år",
                approval_reference="REK 2026/12345",
                purposes=list(purposes),
                questionnaires_=["ung18"],
                members=list(members),
                folder=None,
                data_use_codes=["DUO:0000007"],
            )
            db.session.commit()
            return project.code

    return build


@pytest.fixture
def extract(app: Any) -> Callable[..., Any]:
    """``extract(code, kind="full", at=None)``: run a delivery (committed to the test's transaction);
    returns its release, counts and folder."""

    def run(code: str, kind: str = "full", at: datetime | None = None) -> Any:
        with app.app_context(), clock.frozen(at or clock.now()):
            project = projects.get_project(code)
            written = extraction.run_extract(project, kind)
            view = SimpleNamespace(
                id=written.id,
                release=written.release,
                kind=written.kind,
                rows=written.rows,
                participants=written.participants,
                deletions=written.deletions,
                folder=downloads.data_store() / project.folder / written.release,
            )
            db.session.commit()
            return view

    return run
