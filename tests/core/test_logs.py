"""Nothing logged can carry a fødselsnummer or a token."""

import io
import json
import logging

import pytest

from engagement import logs
from engagement.logs import redact

SYNTHETIC = "15830751340"


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.addFilter(logs.RedactingFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    "text",
    [
        f"pid={SYNTHETIC}",
        f"looked up {SYNTHETIC[:6]} {SYNTHETIC[6:]}",
        "Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        '{"refresh_token": "r3fr3sh-t0k3n-value"}',
        "GET /auth/idporten/callback?code=abc123&state=xyz789",
    ],
)
def test_redact_removes_identities_and_tokens(text):
    cleaned = redact(text)
    for secret in (
        SYNTHETIC,
        SYNTHETIC[6:],
        "eyJhbGciOiJFUzI1NiJ9",
        "r3fr3sh-t0k3n-value",
        "abc123",
        "xyz789",
    ):
        assert secret not in cleaned


def test_log_args_extras_and_exceptions_are_redacted(captured):
    logger, stream = captured
    try:
        raise ValueError(f"bad number {SYNTHETIC}")
    except ValueError:
        logger.exception("failed for %s", SYNTHETIC, extra={"detail": f"token=abc{SYNTHETIC}"})
    line = stream.getvalue()
    assert SYNTHETIC not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and "ValueError" in entry["exception"]


def test_requests_are_logged_with_request_id_and_route(client, caplog):
    caplog.set_level(logging.INFO, logger="engagement.access")
    response = client.get("/health/live", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    record = next(r for r in caplog.records if r.name == "engagement.access")
    assert record.route == "/health/live" and record.status == 200


def test_hostile_request_id_is_replaced(client):
    response = client.get("/health/live", headers={"X-Request-Id": "x" * 100 + "<script>"})
    assert response.headers["X-Request-Id"] != "x" * 100


def test_generated_request_ids_can_never_look_like_a_number():
    ids = {logs.new_request_id() for _ in range(2_000)}
    assert len(ids) == 2_000
    assert all(redact(i) == i and not any(c.isdigit() for c in i) for i in ids)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("abc-123", True),
        ("0b8e2a1c-5f3d-4e7a-9c1b-2d4f6a8b0c1e", True),
        (f"req-{SYNTHETIC}", False),
        (f"{SYNTHETIC[:6]}-{SYNTHETIC[6:]}", False),
        ("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", False),
        ("x" * 65, False),
        ("", False),
    ],
)
def test_a_client_request_id_is_kept_only_when_redaction_leaves_it_intact(given, kept):
    assert (logs.accepted_request_id(given) == given) is kept


def test_redaction_still_catches_numbers_next_to_a_request_id():
    line = json.dumps({"request_id": logs.new_request_id(), "msg": f"looked up {SYNTHETIC}"})
    assert SYNTHETIC not in redact(line) and json.loads(line)["request_id"] in redact(line)


def test_the_sid_of_a_front_channel_logout_url_is_redacted():
    line = '"GET /auth/idporten/frontchannel-logout?iss=https%3A%2F%2Fidporten.no&sid=s3ss10n-X HTTP/1.1" 200'
    assert "s3ss10n-X" not in redact(line) and "iss=https" in redact(line)
    assert redact("detail sid=0b8e2a1c") == "detail sid=0b8e2a1c"  # internal ids in log details stay
