"""Fixtures of the questionnaire tests: a small definition with every item type, published versions, tasks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engagement import clock
from engagement.extensions import db
from engagement.questionnaires import services
from engagement.questionnaires.models import QuestionnaireVersion, Task
from tests.conftest import ROOT

SEED_FOLDER = ROOT / "questionnaires"


def t(text: str) -> dict[str, str]:
    """A text in all three languages (tests only need them to be present)."""
    return {"nb": f"{text} (nb)", "nn": f"{text} (nn)", "en": text}


def option(code: int, label: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "label": label, "text": t(label.lower()), **extra}


# One item of every type, and conditions with every operator.
TINY: dict[str, Any] = {
    "format": 1,
    "key": "tiny",
    "version": 1,
    "version_label": "TINY_A",
    "variable_prefix": "TT",
    "title": t("Tiny"),
    "intro": t("A questionnaire with one item of each type"),
    "scales": {"MOOD": {"name": "Mood", "title": t("Mood"), "scoring": "sum"}},
    "sections": [
        {
            "id": "all_types",
            "title": t("All types"),
            "items": [
                {
                    "name": "TT10",
                    "type": "single_choice",
                    "required": True,
                    "text": t("Sex"),
                    "options": [option(1, "KVINNE"), option(2, "MANN"), option(3, "ANNET")],
                },
                {
                    "name": "TT11",
                    "type": "multiple_choice",
                    "required": True,
                    "text": t("Activities"),
                    "options": [
                        option(1, "SKOLE", variable="TT11"),
                        option(2, "JOBB", variable="TT12"),
                        option(3, "ANNET", variable="TT13"),
                    ],
                },
                {
                    "name": "TT14",
                    "type": "likert",
                    "required": False,
                    "text": t("Mood"),
                    "scale": {"id": "MOOD", "reversed": True},
                    "options": [
                        option(1, "DÅRLIG"),
                        option(2, "OK"),
                        option(3, "BRA"),
                        option(9, "ØNSKER IKKE Å SVARE", kind="prefer_not_to_say"),
                    ],
                },
                {
                    "name": "TT15",
                    "type": "integer",
                    "required": True,
                    "text": t("Height"),
                    "min": 100,
                    "max": 230,
                    "unit": "cm",
                    "special_answers": [
                        {"code": 999, "kind": "dont_know", "label": "VET IKKE", "text": t("don't know")}
                    ],
                },
                {
                    "name": "TT16",
                    "type": "decimal",
                    "required": False,
                    "text": t("Sleep"),
                    "min": 0,
                    "max": 16,
                    "step": 0.5,
                },
                {
                    "name": "TT17",
                    "type": "year_month",
                    "required": False,
                    "text": t("Moved"),
                    "min": "2000-01",
                    "not_in_future": True,
                    "special_answers": [
                        {
                            "code": 99,
                            "kind": "dont_remember",
                            "label": "HUSKER IKKE",
                            "text": t("don't remember"),
                        }
                    ],
                },
                {"name": "TT18", "type": "date", "required": False, "text": t("Date"), "max": "2030-12-31"},
                {
                    "name": "TT19",
                    "type": "time",
                    "required": False,
                    "text": t("Bedtime"),
                    "time_origin": "18:00",
                },
                {"name": "TT20", "type": "yes_no", "required": True, "text": t("Moved out")},
                {
                    "name": "TT21_TEKST",
                    "type": "text",
                    "required": False,
                    "text": t("Anything else"),
                    "max_length": 20,
                },
                # conditions, one operator each
                {
                    "name": "TT30",
                    "type": "yes_no",
                    "required": True,
                    "text": t("If woman"),
                    "enable_when": [{"item": "TT10", "operator": "=", "answer": 1}],
                },
                {
                    "name": "TT31",
                    "type": "yes_no",
                    "required": True,
                    "text": t("If not woman"),
                    "enable_when": [{"item": "TT10", "operator": "!=", "answer": 1}],
                },
                {
                    "name": "TT32",
                    "type": "yes_no",
                    "required": True,
                    "text": t("If tall"),
                    "enable_when": [{"item": "TT15", "operator": ">", "answer": 190}],
                },
                {
                    "name": "TT33",
                    "type": "yes_no",
                    "required": False,
                    "text": t("If short"),
                    "enable_when": [{"item": "TT15", "operator": "<", "answer": 150}],
                },
                {
                    "name": "TT34",
                    "type": "yes_no",
                    "required": False,
                    "text": t("If sleeps 8+"),
                    "enable_when": [{"item": "TT16", "operator": ">=", "answer": 8}],
                },
                {
                    "name": "TT35",
                    "type": "yes_no",
                    "required": False,
                    "text": t("If bed by 22"),
                    "enable_when": [{"item": "TT19", "operator": "<=", "answer": "22:00"}],
                },
                {
                    "name": "TT36",
                    "type": "yes_no",
                    "required": False,
                    "text": t("If sleep answered"),
                    "enable_when": [{"item": "TT16", "operator": "exists", "answer": True}],
                },
                {
                    "name": "TT37",
                    "type": "yes_no",
                    "required": False,
                    "text": t("If at work or school"),
                    "enable_behavior": "any",
                    "enable_when": [
                        {"item": "TT11", "operator": "=", "answer": 1},
                        {"item": "TT11", "operator": "=", "answer": 2},
                    ],
                },
                {
                    "name": "TT38",
                    "type": "yes_no",
                    "required": False,
                    "text": t("If TT30 is yes"),
                    "enable_when": [{"item": "TT30", "operator": "=", "answer": True}],
                },
            ],
        }
    ],
}

# A valid complete answer set for TINY (a woman, 170 cm: TT30 shown, TT31/TT32 hidden).
TINY_ANSWERS: dict[str, Any] = {
    "TT10": 1,
    "TT11": [1, 3],
    "TT14": 2,
    "TT15": 170,
    "TT16": 7.5,
    "TT17": "2020-08",
    "TT18": "2024-02-29",
    "TT19": "23:15",
    "TT20": True,
    "TT21_TEKST": "hei",
    "TT30": False,
    "TT36": True,
    "TT37": True,
}


def tiny(**changes: Any) -> dict[str, Any]:
    definition = copy.deepcopy(TINY)
    definition.update(changes)
    return definition


def write_definition(folder: Path, definition: dict[str, Any]) -> Path:
    path = folder / definition["key"] / f"v{definition['version']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(definition, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "questionnaires"
    write_definition(folder, TINY)
    return folder


@pytest.fixture
def published(app: Any, tiny_folder: Path) -> dict[tuple[str, int], QuestionnaireVersion]:
    """The seed questionnaires and TINY, published in this test's transaction."""
    with app.app_context():
        for source in (SEED_FOLDER / "ung18").glob("v*.yaml"):
            target = tiny_folder / "ung18" / source.name
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(source.read_bytes())
        services.publish_all(tiny_folder)
        db.session.commit()  # into the test's outer transaction, which is rolled back at the end
        return services.published_definitions()


@pytest.fixture
def make_task(app: Any, published: Any) -> Callable[..., Task]:
    """``make_task(participant, key="tiny", version=1, opens_at=None, due_at=None)``."""

    def build(
        participant: Any,
        key: str = "tiny",
        version: int = 1,
        opens_at: datetime | None = None,
        due_at: datetime | None = None,
    ) -> Task:
        with app.app_context():
            task = services.create_task(participant.id, published[(key, version)], opens_at, due_at)
            db.session.commit()  # into the test's outer transaction
            return task

    return build


def now() -> datetime:
    return clock.now()
