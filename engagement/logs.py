"""JSON logs with a request id, and a filter that keeps fødselsnumre and tokens out of every log line.

The filter sits on the handlers this module installs, so it sees records of every logger (werkzeug's
request lines, gunicorn's, libraries') after they are formatted into text, exceptions included.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import string
import sys
import time
import traceback
from typing import Any

from flask import Flask, Response, g, has_request_context, request

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON Web Tokens (ID tokens, access tokens, client assertions)
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "[jwt]"),
    # Authorization headers
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    # key=value and "key": "value" for anything that carries a secret
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|id_token|code_verifier|code|client_secret|client_assertion|"
            r"token|password|secret|state|nonce|pid|fodselsnummer|registration_token)"
            r"(\"?\s*[:=]\s*\"?)([^&\s\",}]+)"
        ),
        r"\1\2[redacted]",
    ),
    # the upstream provider's session id in a URL (front-channel logout): whoever reads it could end
    # that person's sessions (the internal ``sid=<uuid>`` of log details is not a query parameter)
    (re.compile(r"(?i)([?&]sid=)[^&\s\"]+"), r"\1[redacted]"),
    # fødselsnummer / D-number: eleven digits, optionally written 6 + 5
    (re.compile(r"(?<!\d)\d{6}[ .-]?\d{5}(?!\d)"), "[11 digits]"),
)


def redact(text: str) -> str:
    """``text`` with every fødselsnummer-shaped number and every token replaced."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Renders message, arguments and exception into text, then redacts it; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the event
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key in _EXTRA_FIELDS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_EXTRA_FIELDS = {"route", "path", "method", "status", "duration_ms", "request_id", "event", "detail"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            record.request_id = g.get("request_id")
        return True


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_REQUEST_ID_LETTERS = string.ascii_lowercase


def new_request_id() -> str:
    """A request id of 20 random lowercase letters (94 bits): with no digit in it, the fødselsnummer
    redaction can never rewrite it, so a log line always names the id the client was given."""
    return "".join(secrets.choice(_REQUEST_ID_LETTERS) for _ in range(20))


def accepted_request_id(given: str) -> str:
    """The client's ``X-Request-Id`` when it is short, plain and redaction leaves it as it is (so the
    logs carry it intact); otherwise a new id, which the response returns in ``X-Request-Id``."""
    if _REQUEST_ID.match(given) and redact(given) == given:
        return given
    return new_request_id()


def configure(level: str, as_json: bool) -> None:
    """Install one stderr handler on the root logger, with request ids and redaction."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_engagement", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._engagement = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level.upper())


def init_app(app: Flask) -> None:
    configure(app.config["LOG_LEVEL"], app.config["LOG_JSON"])
    access = logging.getLogger("engagement.access")

    @app.before_request
    def _start() -> None:
        g.request_id = accepted_request_id(request.headers.get("X-Request-Id", ""))
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-Id"] = request_id
        started = g.get("request_started")
        if started is not None:
            access.info(
                "request",
                extra={
                    "method": request.method,
                    "route": request.url_rule.rule if request.url_rule else "<unmatched>",
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        return response
