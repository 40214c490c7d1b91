"""Real HTTP for login tests: the app and an OpenID provider each under a WSGI server on loopback,
and a client that plays the mobile app and its system browser with ``requests``."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from flask import Flask
from werkzeug.serving import make_server

APP_REDIRECT = "no.moba.engagement:/oauth/callback"
STAFF_REDIRECT = "http://127.0.0.1:8765/callback"


class Server:
    """A threaded WSGI server on 127.0.0.1 (free port), in a daemon thread."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Browser:
    """The app plus its system browser: follows redirects by hand until the app's redirect URI."""

    base: str
    client_id: str = "moba-app"
    redirect_uri: str = APP_REDIRECT
    seen: list[requests.Response] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.hooks["response"].append(lambda r, *a, **k: self.seen.append(r))

    def login(self, person: str | None, **params: str) -> dict[str, str]:
        """Run a login; return the query the app receives (code/state/iss, or error...)."""
        self.verifier, challenge = pkce()
        self.state = secrets.token_urlsafe(12)
        query = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": self.state,
            **params,
        }
        url = f"{self.base}/auth/app/authorize?{urlencode(query)}"
        return self.follow(url, person)

    def follow(
        self, url: str, person: str | None, stop_at: Callable[[str], bool] | None = None
    ) -> dict[str, str]:
        for _ in range(10):
            if url.startswith(self.redirect_uri) or (stop_at and stop_at(url)):
                self.landed = url
                return dict(parse_qsl(urlsplit(url).query))
            if "/authorize?" in url and not url.startswith(self.base + "/auth/") and person is not None:
                url += "&" + urlencode({"login_hint": person})
            response = self.session.get(url, allow_redirects=False, timeout=10)
            response.close()
            if response.status_code not in (302, 303):
                raise AssertionError(f"{url} answered {response.status_code}: {response.text[:300]}")
            url = response.headers["Location"]
        raise AssertionError("too many redirects")

    def token(self, code: str, **overrides: str) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": self.verifier,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            **overrides,
        }
        return self.post("/auth/app/token", form)

    def refresh(self, refresh_token: str, client_id: str | None = None) -> requests.Response:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id or self.client_id,
        }
        return self.post("/auth/app/token", form)

    def post(self, path: str, form: dict[str, str], **kwargs: Any) -> requests.Response:
        response = requests.post(f"{self.base}{path}", data=form, timeout=10, **kwargs)
        response.close()
        self.seen.append(response)
        return response

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = requests.get(f"{self.base}{path}", headers=headers, timeout=10, **kwargs)
        response.close()
        self.seen.append(response)
        return response

    def tokens(self, person: str, **params: str) -> dict[str, Any]:
        """Log in and trade the code: the token response body."""
        landed = self.login(person, **params)
        assert "code" in landed, landed
        response = self.token(landed["code"])
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def serve_provider(providers: dict[str, Any]) -> tuple[Flask, Server]:
    """A separate Flask app that only serves the given stand-in providers at /<name>."""
    idp = Flask("stand-in-idp")
    for name, provider in providers.items():
        idp.register_blueprint(provider.blueprint(f"idp_{name}", f"/{name}"))
    return idp, Server(idp)
