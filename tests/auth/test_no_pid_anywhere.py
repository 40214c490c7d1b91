"""After a full login and a roster import, the fødselsnummer is nowhere: database, logs, responses."""

from __future__ import annotations

import io
import logging
import re

import pytest
import requests
import sqlalchemy as sa

from engagement.extensions import db
from tests.auth.live import STAFF_REDIRECT

JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")

pytestmark = pytest.mark.committing


def _engagement_handler() -> logging.StreamHandler:
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_engagement", False)]
    assert handlers
    return handlers[0]


def test_fodselsnummer_is_not_in_the_database_logs_or_responses(live):
    person = live.people["ola"]
    newcomer = live.people["stranger"]  # imported below through the API, then logs in
    handler = _engagement_handler()
    captured = io.StringIO()
    previous_stream = handler.setStream(captured)
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        staff = live.browser(client_id="moba-staff-cli", redirect_uri=STAFF_REDIRECT)
        staff_token = staff.tokens("coordinator")["access_token"]
        csv = (
            "cohort_person_id,fodselsnummer,birth_date,language\n"
            f"NEW-1,{newcomer.pid},{newcomer.birth_date.isoformat()},en\n"
        )
        imported = requests.post(
            f"{live.url}/v1/admin/roster",
            data=csv.encode(),
            headers={"Authorization": f"Bearer {staff_token}", "Content-Type": "text/csv"},
            timeout=10,
        )
        imported.close()
        assert imported.status_code == 200, imported.text
        bad = requests.post(
            f"{live.url}/v1/admin/roster",
            data=(csv + f"NEW-2,{newcomer.pid},{newcomer.birth_date.isoformat()},en\n").encode(),
            headers={"Authorization": f"Bearer {staff_token}", "Content-Type": "text/csv"},
            timeout=10,
        )
        bad.close()
        assert bad.status_code == 422
        browser = live.browser()
        for who in ("ola", "stranger", "minor"):
            body = browser.tokens(who) if who != "minor" else browser.login(who)
            if who == "ola":
                tokens = body
        me = browser.get("/v1/me", tokens["access_token"])
        assert me.status_code == 200
        browser.refresh(tokens["refresh_token"])
        browser.get("/v1/me/sessions", tokens["access_token"])
    finally:
        handler.setStream(previous_stream)
        root.setLevel(previous_level)

    numbers = {person.pid, newcomer.pid, live.people["minor"].pid}
    log_text = captured.getvalue()
    assert "login succeeded" in log_text  # the capture saw the login
    responses = [*staff.seen, *browser.seen, imported, bad]
    response_text = "\n".join(f"{r.url}\n{r.headers}\n{r.text}" for r in responses)
    database_text = _dump_text_columns(live.app)
    for number in numbers:
        assert number not in log_text
        assert number not in response_text
        assert number not in database_text
    # no upstream ID token is kept either: a JWT is two base64url JSON objects ("eyJ" is '{"') and a
    # signature joined by dots; a random token may hold "eyJ" by chance, but not that shape
    assert not JWT.search(database_text)


def _dump_text_columns(app) -> str:
    chunks: list[str] = []
    with app.app_context():
        inspector = sa.inspect(db.engine)
        with db.engine.connect() as conn:
            for table in inspector.get_table_names():
                columns = [c["name"] for c in inspector.get_columns(table)]
                quoted = ", ".join(f'"{c}"' for c in columns)
                for row in conn.execute(sa.text(f'SELECT {quoted} FROM "{table}"')):
                    chunks.extend(str(value) for value in row if value is not None)
    assert chunks
    return "\n".join(chunks)
