"""Fixtures of the wave and reminder tests: the published seed questionnaire, waves, devices."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from engagement import clock
from engagement.devices import services as devices
from engagement.extensions import db
from engagement.questionnaires import services as questionnaires
from engagement.waves import services as waves
from engagement.waves.models import Wave
from tests.conftest import ROOT

# a window that is open all day, so tests at any real time can send (committing tests use real time)
ALL_DAY = {"window": {"start": "00:00", "end": "23:59"}, "quiet_hours": [], "min_gap_hours": 0}


@pytest.fixture
def seed_version(app: Any) -> tuple[str, int]:
    """The seed questionnaires published (committed into the test's transaction); ``("ung18", 1)``."""
    with app.app_context():
        questionnaires.publish_all(ROOT / "questionnaires")
        db.session.commit()
    return "ung18", 1


@pytest.fixture
def make_wave(app: Any, seed_version: tuple[str, int]) -> Callable[..., Wave]:
    """``make_wave(launch=True, policy=..., **fields)``: a wave for everyone 18+, committed."""

    def build(*, launch: bool = True, policy: dict[str, Any] | None = None, **fields: Any) -> Wave:
        now = clock.now()
        values: dict[str, Any] = {
            "name": f"wave {uuid.uuid4().hex[:6]}",
            "questionnaire_key": seed_version[0],
            "questionnaire_version": seed_version[1],
            "eligibility": {"kind": "age", "min_age": 18},
            "opens_at": now,
            "closes_at": now + timedelta(days=30),
            "reminder_policy": policy or {},
        }
        values.update(fields)
        with app.app_context():
            wave = waves.create_wave(**values)
            if launch:
                waves.launch(wave.id, clock.now())
            db.session.commit()
            return waves.get_wave(wave.id)

    return build


@pytest.fixture
def add_device(app: Any) -> Callable[..., uuid.UUID]:
    """``add_device(participant, registration, kind="fid", language=None)`` -> device id."""

    def build(
        participant: Any, registration: str, kind: str = "fid", language: str | None = None,
        at: datetime | None = None,
    ) -> uuid.UUID:  # fmt: skip
        with app.app_context():
            device, _ = devices.register(
                participant.id, kind=kind, registration=registration, platform="android",
                language=language, at=at,
            )  # fmt: skip
            db.session.commit()
            return device.id

    return build
