"""Shared by the reminder tests: a local FCM-compatible server, a worker sending to it, and people with
devices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from engagement import clock
from engagement.clock import OSLO
from notifications.sender import FcmSender
from notifications.worker import Worker
from tests.fakes.fcm_server import FakeFcm
from tests.waves.conftest import add_device, make_wave, seed_version  # noqa: F401 - shared fixtures


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as server:
        yield server


@pytest.fixture
def worker(app, fcm) -> Iterator[Worker]:
    fcm.calls.clear()
    sender = FcmSender(project_id="moba-test", credentials="static", endpoint=fcm.url, rand=lambda: 0.0)
    yield Worker(app, sender, name="test-worker", batch=50, lease=timedelta(minutes=5))
    sender.close()


@pytest.fixture
def person(make_participant, add_device):  # noqa: F811 - the fixture imported above
    """A participant of 19 with one installation (``fid-good``) in a launched evening wave."""

    def build(*registrations: str, policy=None, language="nb", at=None):
        with clock.frozen(at or oslo(2026, 6, 1, 12)):
            participant = make_participant(age=19, language=language)
            for registration in registrations or ("fid-good",):
                add_device(participant, registration)
        return participant

    return build
