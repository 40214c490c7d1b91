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
