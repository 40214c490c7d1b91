"""The OpenID provider down or hanging: login ends at once with a clear OAuth error at the app's
redirect URI, concurrent logins do not queue up behind one another, and the rest of the API answers."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from engagement.auth import oidc
from tests.auth.live import APP_REDIRECT, Server, pkce

TIMEOUT = 1.0
CONCURRENT_LOGINS = 6


class Blackhole:
    """Accepts TCP connections and never answers: a provider that hangs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/idporten"

    def close(self) -> None:
        self.sock.close()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/idporten"


@pytest.fixture
def backend(app, monkeypatch):
    server = Server(app)
    monkeypatch.setattr(oidc, "HTTP_TIMEOUT", TIMEOUT)
    monkeypatch.setitem(app.config, "PUBLIC_URL", server.url)
    monkeypatch.setitem(app.config, "IDPORTEN_CLIENT_ID", "backend")
    monkeypatch.setitem(app.config, "IDPORTEN_CLIENT_SECRET", "secret")
    app.extensions.pop("engagement.upstreams", None)
    yield server
    app.extensions.pop("engagement.upstreams", None)
    server.close()


def _authorize(base: str) -> tuple[dict[str, str], float]:
    _, challenge = pkce()
    params = {
        "client_id": "moba-app",
        "redirect_uri": APP_REDIRECT,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "app-state",
    }
    started = time.monotonic()
    with requests.get(f"{base}/auth/app/authorize", params=params, allow_redirects=False, timeout=30) as r:
        elapsed = time.monotonic() - started
        assert r.status_code == 302, r.text
        location = r.headers["Location"]
    assert location.startswith(APP_REDIRECT)
    return dict(parse_qsl(urlsplit(location).query)), elapsed


def test_login_against_a_provider_that_is_down_ends_with_temporarily_unavailable(app, backend, monkeypatch):
    monkeypatch.setitem(app.config, "IDPORTEN_ISSUER", _closed_port_url())
    landed, _ = _authorize(backend.url)
    assert landed["error"] == "temporarily_unavailable"
    assert landed["state"] == "app-state" and landed["error_description"]


@pytest.mark.committing  # concurrent requests, each with its own connection
def test_concurrent_logins_against_a_hanging_provider_each_fail_within_the_timeout(
    app, backend, monkeypatch, make_participant, login_as
):
    hole = Blackhole()
    monkeypatch.setitem(app.config, "IDPORTEN_ISSUER", hole.url)
    headers = login_as(make_participant())
    results: list[tuple[dict[str, str], float]] = []
    threads = [
        threading.Thread(target=lambda: results.append(_authorize(backend.url)))
        for _ in range(CONCURRENT_LOGINS)
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(TIMEOUT / 4)
        # while the logins hang on the provider, the rest of the API answers
        with requests.get(f"{backend.url}/v1/me", headers=headers, timeout=30) as me:
            assert me.status_code == 200
        assert any(thread.is_alive() for thread in threads)  # ...before the logins have finished
        for thread in threads:
            thread.join(timeout=30)
    finally:
        hole.close()
    assert len(results) == CONCURRENT_LOGINS
    assert {landed["error"] for landed, _ in results} == {"temporarily_unavailable"}
    # One request waits out the timeout; the others must not queue behind it, one timeout each.
    slowest = max(elapsed for _, elapsed in results)
    assert slowest < 3 * TIMEOUT, sorted(round(e, 2) for _, e in results)
