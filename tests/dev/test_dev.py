"""The development stand-in: seeded demo data, a login banner, and never in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from engagement import config, create_app
from engagement.auth.models import StaffUser
from engagement.config import ConfigError
from engagement.dev import DevelopmentOnly, ensure_development
from engagement.dev.cli import seed_demo_identities
from engagement.dev.identities import demo_persons
from engagement.extensions import db
from engagement.participants.models import Participant
from engagement.participants.services import hash_pid
from engagement.questionnaires.models import Response
from engagement.waves.models import Reminder, Wave
from tests.conftest import ROOT, TEST_CONFIG
from tests.console.helpers import http_sign_in


def test_production_refuses_the_stand_in_and_synthetic_numbers():
    with pytest.raises(ConfigError) as caught:
        config.load({"ENV": "production", "DEV_IDPORTEN": True, "ALLOW_SYNTHETIC_PID": True}, environ={})
    assert "ENGAGEMENT_DEV_IDPORTEN" in str(caught.value) and "ENGAGEMENT_ALLOW_SYNTHETIC_PID" in str(
        caught.value
    )


def test_development_tools_refuse_a_production_app():
    class Fake:
        config = {"ENV": "production"}

    with pytest.raises(DevelopmentOnly):
        ensure_development(Fake())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"IDPORTEN_ISSUER": "https://test.idporten.no"}, "ID-porten TEST"),
        ({"IDPORTEN_ISSUER": "http://idporten.no"}, "IDPORTEN_ISSUER must be an https"),
        ({"IDPORTEN_CLIENT_KEY": None, "IDPORTEN_CLIENT_SECRET": "s"}, "private_key_jwt"),
        ({"STAFF_CLIENT_SECRET": "s", "STAFF_CLIENT_KEY": "/k"}, "set only one"),
        ({"APP_CLIENTS": None}, "APP_CLIENTS"),
    ],
)
def test_production_login_settings_are_checked(changes, needle):
    values = {
        "ENV": "production",
        "SECRET_KEY": "s" * 32,
        "PID_PEPPER": "p" * 32,
        "TOKEN_SIGNING_KEY": "/k",
        "DATABASE_URL": "postgresql+psycopg://db/x",
        "PUBLIC_URL": "https://api.example",
        "DATA_STORE_DIR": "/srv/research-import",
        "IDPORTEN_ISSUER": "https://idporten.no",
        "IDPORTEN_CLIENT_ID": "c",
        "IDPORTEN_CLIENT_KEY": "/k",
        "STAFF_ISSUER": "https://login.example",
        "STAFF_CLIENT_ID": "c",
        "STAFF_CLIENT_SECRET": "s",
        "APP_CLIENTS": [{"client_id": "a", "kind": "participant", "redirect_uris": ["x:/cb"]}],
        "CATALOG_PUBLISHER_ORGNR": "983744516",
        "CATALOG_CONTACT_EMAIL": "data@example.test",
        "CATALOG_ACCESS_URL": "https://access.example.test",
        "CATALOG_HDAB_ORGNR": "983544622",
    }
    assert config.validate(values) == []
    problems = config.validate({**values, **changes})
    assert any(needle in p for p in problems), problems


def test_stand_in_is_served_and_announced_only_when_enabled(tmp_path):
    off = create_app({**TEST_CONFIG, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"})
    assert off.test_client().get("/dev/idporten/.well-known/openid-configuration").status_code == 404
    on = create_app({**TEST_CONFIG, "DEV_IDPORTEN": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"})
    discovery = on.test_client().get("/dev/idporten/.well-known/openid-configuration").get_json()
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    banner = "\n".join(on.extensions["engagement.dev_banner"])
    assert "/auth/app/authorize" in banner and "login_hint=ola" in banner and "/v1/me" in banner
    for app in (off, on):
        app.extensions["engagement.db"].dispose()


def test_demo_roster_is_seeded_once_with_one_minor_and_one_stranger(app, app_ctx):
    from engagement import clock

    lines = seed_demo_identities()
    assert any("demo roster" in line for line in lines)
    people = demo_persons(clock.now().date())
    hashes = set(db.session.scalars(sa.select(Participant.pid_hash)))
    on_roster = [p for p in people if p.on_roster]
    assert all(hash_pid(p.pid) in hashes for p in on_roster)
    assert any(not p.on_roster for p in people) and any(p.note.endswith("under 18") for p in people)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(StaffUser)) == 3
    again = seed_demo_identities()
    assert "left as it is" in again[0]


def test_make_run_setup_logs_a_demo_participant_in_end_to_end(tmp_path):
    """What `make run` serves: one process with the stand-in beside the API, on SQLite, over real HTTP."""
    import socket

    from engagement.dev.cli import prepare
    from tests.auth.live import Browser, Server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dev = create_app(
        {
            **TEST_CONFIG,
            "ENV": "development",
            "DEV_IDPORTEN": True,
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
            "DATA_STORE_DIR": str(tmp_path / "datastore"),
        }
    )
    with dev.app_context():
        prepare()
    server = Server(dev, port)
    try:
        browser = Browser(server.url, redirect_uri="http://127.0.0.1/callback")
        tokens = browser.tokens("ola")
        me = browser.get("/v1/me", tokens["access_token"])
        assert me.status_code == 200 and me.json()["age"] >= 18
        # the console has something to show: a few hundred people, a launched wave with answers and reminders
        console = http_sign_in(server.url, "coordinator")
        overview = console.get(server.url + "/console", timeout=10)
        assert overview.status_code == 200 and "Demo: young adults" in overview.text
        with dev.app_context():
            counted = {
                model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Participant, Response, Reminder, Wave)
            }
        assert counted["Participant"] >= 300 and counted["Response"] >= 100 and counted["Reminder"] >= 100
        project = console.get(server.url + "/console/projects/PDB9999", timeout=10)
        assert (
            project.status_code == 200 and 'id="release-R0001"' in project.text
        )  # a delivered extract to show
    finally:
        server.close()
        dev.extensions["engagement.db"].dispose()


def _children(pid: int) -> set[int]:
    """The direct child processes of ``pid`` (Linux /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from Linux /proc")
def test_sigterm_stops_flask_dev_up_and_its_reminder_worker(tmp_path):
    """`make run` stopped as a process manager or a container runtime stops it leaves no orphan."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "ENGAGEMENT_ENV": "development",
        "ENGAGEMENT_DEV_IDPORTEN": "true",
        "ENGAGEMENT_ALLOW_SYNTHETIC_PID": "true",
        "ENGAGEMENT_LOG_JSON": "false",
        "ENGAGEMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
        "ENGAGEMENT_DATA_STORE_DIR": str(tmp_path / "datastore"),
    }
    env.pop("ENGAGEMENT_TEST_DATABASE_URL", None)
    up = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "dev", "up", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        ready = False
        while time.monotonic() < deadline and up.poll() is None and not ready:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/health/live", timeout=1).ok
            except requests.ConnectionError:
                time.sleep(0.2)
        assert ready, "flask dev up did not start serving"
        while not workers and time.monotonic() < deadline:
            workers = _children(up.pid)
            time.sleep(0.1)
        assert workers, "no reminder worker was started"
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "the reminder worker outlived flask dev up"
    finally:
        for pid in [up.pid, *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        up.wait(timeout=10)
