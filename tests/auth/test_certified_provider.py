"""Login over real HTTP against an independent, OpenID-certified provider (npm ``oidc-provider``
with an ID-porten profile, ``tests/idp/server.mjs``), so that this service's client side is checked
by an implementation it did not write: PKCE required, single-use codes, client authentication,
RFC 9207 ``iss``, key rotation. ``make test`` installs it with ``npm ci --prefix tests/idp``."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from joserfc.jwk import RSAKey

from engagement.auth import sessions
from engagement.auth.models import LoginTransaction, SessionFamily
from engagement.auth.oidc import UpstreamError, upstream
from engagement.extensions import db
from tests.auth.live import Browser, Server, pkce
from tests.conftest import ROOT, missing_tool
from tests.identities import synthetic_fnr

IDP_DIR = ROOT / "tests" / "idp"
NODE = os.environ.get("IDP_NODE") or shutil.which("node")
START_TIMEOUT = 20.0
SECRET = "certified-provider-secret-for-tests"

pytestmark = [pytest.mark.committing]


@pytest.fixture(scope="module", autouse=True)
def _node() -> None:
    """Before the module's servers start (autouse fixtures come first in their scope)."""
    if NODE is None:
        missing_tool("Node.js is not installed; the certified provider needs it")


ADULT = date(date.today().year - 25, 6, 9)
PEOPLE = {
    "ola": {"pid": synthetic_fnr(ADULT), "locale": "nb"},
    "kari-low": {"pid": synthetic_fnr(ADULT), "acr": "idporten-loa-low"},
    "eidas": {"pid": None, "amr": ["eIDAS"]},
}


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, {"kid": kid, "alg": "RS256", "use": "sig"}, private=True)


@dataclass
class CertifiedProvider:
    """The node process; its stdout is read until ready, then copied to the log with its stderr."""

    log: Path
    clients: list[dict[str, Any]]
    keys: list[RSAKey]
    process: subprocess.Popen[str] | None = None
    issuer: str = ""
    port: int = 0
    _drain: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        env = {
            **os.environ,
            "IDP_PORT": str(self.port),
            "NODE_NO_WARNINGS": "1",
            "IDP_CLIENTS": json.dumps(self.clients),
            "IDP_USERS": json.dumps(PEOPLE),
            "IDP_KEYS": json.dumps([k.as_dict(private=True) for k in self.keys]),
        }
        with self.log.open("a") as stderr:
            self.process = subprocess.Popen(
                [str(NODE), "server.mjs"],
                cwd=IDP_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None
        self._drain = threading.Thread(
            target=_drain, args=(self.process.stdout, lines, self.log), daemon=True
        )
        self._drain.start()
        while True:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                pytest.fail(f"the certified OpenID provider did not start; see {self.log}")
            try:
                ready = json.loads(line)
            except ValueError:
                continue
            if isinstance(ready, dict) and ready.get("ready"):
                break
        self.issuer = ready["issuer"]
        self.port = urlsplit(self.issuer).port or 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None
        if self._drain is not None:
            self._drain.join(timeout=5)

    def restart(self, keys: list[RSAKey]) -> None:
        """Stop and start again on the same port (same issuer) with other signing keys."""
        self.stop()
        self.keys = keys
        self.start()


def _drain(stdout: IO[str], lines: queue.Queue[str | None], log: Path) -> None:
    """Hand lines over until ready, then keep the pipe empty by copying the rest to the log."""
    ready = False
    for line in stdout:
        if ready:
            with log.open("a") as out:
                out.write(line)
        else:
            lines.put(line)
            ready = '"ready"' in line
    lines.put(None)


@dataclass
class Certified:
    app: Flask
    url: str
    idp: CertifiedProvider
    jwt_key_file: Path

    def browser(self) -> Browser:
        return Browser(self.url)

    def use_client(self, client_id: str) -> None:
        """Configure the backend as the client_secret_post or the private_key_jwt client."""
        if client_id == "backend-jwt":
            self.app.config.update(
                IDPORTEN_CLIENT_ID="backend-jwt",
                IDPORTEN_CLIENT_SECRET=None,
                IDPORTEN_CLIENT_KEY=str(self.jwt_key_file),
            )
        else:
            self.app.config.update(
                IDPORTEN_CLIENT_ID="backend-post", IDPORTEN_CLIENT_SECRET=SECRET, IDPORTEN_CLIENT_KEY=None
            )
        self.app.extensions.pop("engagement.upstreams", None)

    def families(self) -> list[SessionFamily]:
        with self.app.app_context():
            return list(db.session.scalars(sa.select(SessionFamily)))


@pytest.fixture(scope="module")
def certified_servers(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Certified]:
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("oidc-provider is not installed: run `npm ci --prefix tests/idp` (make test does)")
    folder = tmp_path_factory.mktemp("certified-idp")
    backend = Server(app)
    callback = f"{backend.url}/auth/idporten/callback"
    client_key = rsa_key("backend-jwt-1")
    key_file = folder / "backend-jwt.jwk"
    key_file.write_text(json.dumps(client_key.as_dict(private=True)))
    clients = [
        {
            "client_id": "backend-post",
            "client_secret": SECRET,
            "token_endpoint_auth_method": "client_secret_post",
            "redirect_uris": [callback],
        },
        {
            "client_id": "backend-jwt",
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks": {"keys": [client_key.as_dict(private=False)]},
            "redirect_uris": [callback],
        },
    ]
    idp = CertifiedProvider(folder / "idp.log", clients, [rsa_key("idp-key-1")])
    idp.start()
    saved = dict(app.config)
    app.config.update(PUBLIC_URL=backend.url, IDPORTEN_ISSUER=idp.issuer)
    certified = Certified(app, backend.url, idp, key_file)
    certified.use_client("backend-post")
    try:
        yield certified
    finally:
        app.config.clear()
        app.config.update(saved)
        app.extensions.pop("engagement.upstreams", None)
        backend.close()
        idp.stop()


@pytest.fixture
def certified(certified_servers: Certified, make_participant: Callable[..., Any]) -> Iterator[Certified]:
    """The live pair, with ola and kari-low on the roster (the eIDAS user has no number at all)."""
    for hint in ("ola", "kari-low"):
        make_participant(birth_date=ADULT, pid=PEOPLE[hint]["pid"], cohort_person_id=f"R-{hint}")
    yield certified_servers
    certified_servers.use_client("backend-post")


def login_until(browser: Browser, person: str, stop_at: Callable[[str], bool]) -> str:
    """Run a login but stop at the first URL ``stop_at`` accepts, and return that URL."""
    follow = browser.follow
    browser.follow = lambda url, who: follow(url, who, stop_at)  # type: ignore[method-assign]
    try:
        browser.login(person)
    finally:
        del browser.follow
    return browser.landed


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def provider_answers(browser: Browser, callback: str) -> list[dict[str, str]]:
    """What the provider sent back to this service's callback during the browser's logins."""
    return [
        dict(parse_qsl(urlsplit(r.headers["Location"]).query))
        for r in browser.seen
        if r.headers.get("Location", "").startswith(callback)
    ]


# --- the happy paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("client_id", ["backend-post", "backend-jwt"])
def test_participant_logs_in_end_to_end_and_reaches_me(certified, client_id):
    certified.use_client(client_id)
    browser = certified.browser()
    landed = browser.login("ola")
    assert set(landed) == {"code", "state", "iss"} and landed["state"] == browser.state
    response = browser.token(landed["code"])
    assert response.status_code == 200, response.text
    me = browser.get("/v1/me", response.json()["access_token"])
    assert me.status_code == 200, me.text
    (family,) = certified.families()
    assert str(family.participant_id) == me.json()["id"]
    assert family.upstream_issuer == certified.idp.issuer
    assert family.acr == "idporten-loa-substantial"
    assert family.upstream_sid and family.auth_time is not None
    # the provider really answered this client, with RFC 9207 `iss`
    (answer,) = provider_answers(browser, f"{certified.url}/auth/idporten/callback")
    assert answer["iss"] == certified.idp.issuer and "code" in answer
    with certified.app.app_context():
        assert upstream("idporten").client_id == client_id


def test_private_key_jwt_with_a_key_the_provider_does_not_know_fails_closed(certified, tmp_path):
    other = tmp_path / "other.jwk"
    other.write_text(json.dumps(rsa_key("backend-jwt-1").as_dict(private=True)))
    certified.use_client("backend-jwt")
    certified.app.config.update(IDPORTEN_CLIENT_KEY=str(other))
    landed = certified.browser().login("ola")
    assert landed["error"] == "access_denied" and landed["error_description"] == "login_failed"
    assert "code" not in landed and certified.families() == []


def test_refresh_of_the_backends_own_tokens_still_works(certified):
    browser = certified.browser()
    first = browser.tokens("ola")
    response = browser.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert browser.get("/v1/me", second["access_token"]).status_code == 200
    again = browser.refresh(first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


# --- refusals --------------------------------------------------------------------------------------


def test_acr_below_the_allow_list_is_refused(certified):
    browser = certified.browser()
    landed = browser.login("kari-low")
    assert landed["error"] == "access_denied" and landed["error_description"] == "acr_too_low"
    assert landed["state"] == browser.state and "code" not in landed
    (answer,) = provider_answers(browser, f"{certified.url}/auth/idporten/callback")
    assert "code" in answer  # the provider did log kari in; this service refused the level
    assert certified.families() == []


def test_eidas_user_without_pid_is_refused(certified):
    landed = certified.browser().login("eidas")
    assert landed["error"] == "access_denied" and landed["error_description"] == "not_a_participant"
    assert certified.families() == []


def test_missing_pkce_is_refused_by_the_provider_and_reaches_the_app_as_an_oauth_error(certified):
    browser = certified.browser()
    authorize = f"{certified.idp.issuer}/authorize?"
    url = login_until(browser, "ola", lambda u: u.startswith(authorize))
    landed = browser.follow(with_query(url, code_challenge=None, code_challenge_method=None), "ola")
    (answer,) = provider_answers(browser, f"{certified.url}/auth/idporten/callback")
    assert answer["error"] == "invalid_request" and "code" not in answer
    assert landed["error"] == "access_denied" and landed["error_description"] == "login_failed"
    assert landed["state"] == browser.state and "code" not in landed
    assert certified.families() == []


def test_wrong_pkce_challenge_is_refused_by_the_provider_and_reaches_the_app_as_an_oauth_error(certified):
    browser = certified.browser()
    authorize = f"{certified.idp.issuer}/authorize?"
    url = login_until(browser, "ola", lambda u: u.startswith(authorize))
    _verifier, someone_elses = pkce()
    landed = browser.follow(with_query(url, code_challenge=someone_elses), "ola")
    (answer,) = provider_answers(browser, f"{certified.url}/auth/idporten/callback")
    assert "code" in answer  # the provider issued a code, but will not trade it for this verifier
    assert landed["error"] == "access_denied" and landed["error_description"] == "login_failed"
    assert landed["state"] == browser.state and "code" not in landed
    assert certified.families() == []


def test_a_replayed_authorization_code_is_refused(certified):
    browser = certified.browser()
    callback = f"{certified.url}/auth/idporten/callback"
    back = login_until(browser, "ola", lambda u: u.startswith(callback))
    landed = browser.follow(back, None)
    assert "code" in landed
    # the same callback again: its state is spent, so the code never reaches the provider again
    replay = browser.session.get(back, allow_redirects=False, timeout=10)
    replay.close()
    assert replay.status_code == 400 and replay.headers["Content-Type"].startswith("application/problem+json")
    # and the provider itself refuses the code a second time, even with the right verifier
    answer = dict(parse_qsl(urlsplit(back).query))
    with certified.app.test_request_context():
        login = db.session.scalars(
            sa.select(LoginTransaction).where(LoginTransaction.state_hash == sessions.sha256(answer["state"]))
        ).one()
        with pytest.raises(UpstreamError, match="invalid_grant"):
            upstream("idporten").exchange_code(answer["code"], callback, login.code_verifier)
    assert len(certified.families()) == 1


def test_provider_key_rotation_is_followed_through_a_jwks_reload(certified):
    old, new = certified.idp.keys[0], rsa_key("idp-key-2")

    def kids() -> set[str]:
        with certified.app.app_context():
            published = upstream("idporten").keys()
            return {k.kid for k in published if k.kid}

    assert "code" in certified.browser().login("ola")
    assert kids() == {old.kid}
    certified.idp.restart([old, new])  # the new key is published, the old one still signs
    assert "code" in certified.browser().login("ola")
    certified.idp.restart([new])  # the old key is gone; ID tokens carry the new kid
    assert "code" in certified.browser().login("ola")
    assert kids() == {new.kid}
    assert len(certified.families()) == 3
