"""The console's cookies: Secure outside development, HttpOnly and SameSite=Lax always."""

from __future__ import annotations

import pytest
from flask import Response

from engagement.console.web import set_session_cookie


@pytest.mark.parametrize(
    ("env", "public_url", "secure"),
    [
        ("production", "https://engagement.example", True),
        ("development", "http://127.0.0.1:5000", False),
        ("development", "https://dev.example", True),
    ],
)
def test_the_session_cookie_is_secure_outside_development(app, env, public_url, secure):
    saved = app.config["ENV"], app.config["PUBLIC_URL"]
    app.config.update(ENV=env, PUBLIC_URL=public_url)
    try:
        with app.test_request_context():
            response = Response()
            set_session_cookie(response, "secret")
    finally:
        app.config["ENV"], app.config["PUBLIC_URL"] = saved
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/console" in header
    assert ("Secure" in header) == secure
