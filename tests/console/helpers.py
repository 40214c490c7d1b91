"""Signing in to the console over HTTP (``requests``), through the staff provider, without a browser."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import requests
import sqlalchemy as sa

from engagement.auth.models import SessionFamily, StaffUser
from engagement.auth.sessions import sha256
from engagement.console.models import ConsoleSession
from engagement.extensions import db


def http_sign_in(base: str, hint: str) -> requests.Session:
    """A ``requests`` session signed in to the console as the provider's person ``hint``."""
    session = requests.Session()
    url = f"{base}/console/login/start?{urlencode({'next': '/console'})}"
    for _ in range(8):
        response = session.get(url, allow_redirects=False, timeout=10)
        response.close()
        if response.status_code not in (302, 303):
            break
        url = response.headers["Location"]
        if url.startswith("/"):
            url = base + url
        if "/authorize?" in url and not url.startswith(base + "/auth/"):
            url += "&" + urlencode({"login_hint": hint})
        if url.rstrip("/").endswith("/console") or "/console/login?" in url:
            session.landed = url  # type: ignore[attr-defined]
            return session
    raise AssertionError(f"the sign-in did not come back to the console: {url}")


def csrf_token(session: requests.Session, base: str, path: str = "/console") -> str:
    page = session.get(base + path, timeout=10)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def family_of(session: requests.Session) -> SessionFamily:
    """The session family behind the console cookie of ``session`` (inside an app context)."""
    secret = session.cookies.get("engagement_console", path="/console")
    row = db.session.get(ConsoleSession, sha256(secret))
    assert row is not None
    family = db.session.get(SessionFamily, row.family_id)
    assert family is not None
    return family


def staff_user(family: SessionFamily) -> StaffUser:
    user = db.session.get(StaffUser, family.staff_user_id)
    assert user is not None
    return user


def staff_of_hint(live, hint: str) -> StaffUser:
    """The staff user the provider's person ``hint`` signed in as (inside an app context)."""
    from engagement.dev.provider import pairwise_subject

    subject = pairwise_subject(live.app.config["STAFF_CLIENT_ID"], hint)
    user = db.session.scalar(sa.select(StaffUser).where(StaffUser.subject == subject))
    assert user is not None
    return user
