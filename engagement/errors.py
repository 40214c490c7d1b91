"""Problem details (RFC 9457) for every error: the domain exceptions services raise
(:mod:`engagement.problems`), Werkzeug's HTTP errors, an unreachable database and anything unexpected.

A problem's ``type`` is ``urn:moba-engagement:problem:<slug>``; the slug is part of the API contract
(the app branches on it), so slugs are never renamed.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, json
from werkzeug.exceptions import HTTPException, SecurityError

from engagement.problems import DomainError, problem_type

PROBLEM_CONTENT_TYPE = "application/problem+json"

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors mapped to stable slugs.
HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    422: "validation-failed",
    428: "precondition-required",
    429: "too-many-requests",
    431: "request-header-fields-too-large",
    500: "internal-error",
    501: "not-implemented",
    503: "service-unavailable",
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": problem_type(slug), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    request_id = g.get("request_id") if g else None
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    response = current_app.response_class(json.dumps(body), status=status, mimetype=PROBLEM_CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_domain_error(error: DomainError) -> Response:
    return problem_response(error.status, error.slug, error.title, error.detail, error.headers, **error.extra)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= 500:
        log.error(
            "http error %s",
            status,
            exc_info=error.original_exception if hasattr(error, "original_exception") else None,
        )
    slug = HTTP_SLUGS.get(status, "bad-request" if status < 500 else "internal-error")
    title = error.name
    detail = error.description if status < 500 else "Something went wrong on our side; it has been logged."
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    data = getattr(error, "data", None) or {}
    if "messages" in data or "errors" in data:
        # webargs/flask-smorest validation errors: {"json": {"field": ["msg"]}, "query": {...}}
        extra["errors"] = data.get("errors") or data["messages"]
        if status == 422:
            detail = "See 'errors' for each field that failed."
    if data.get("message"):
        detail = str(data["message"])
    headers.update(data.get("headers") or {})
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    if status == 400 and "Invalid JSON body." in str(extra.get("errors", "")):
        slug, detail = "malformed-json", "The request body is not valid JSON."
    if isinstance(error, SecurityError):  # a Host header outside TRUSTED_HOSTS
        slug, detail = "untrusted-host", "This service does not answer to that Host."
    return problem_response(status, slug, title, detail, headers, **extra)


def handle_database_unavailable(error: Exception) -> Response:
    log.warning("database unavailable: %s", type(error).__name__)
    return problem_response(
        503,
        "service-unavailable",
        "The service is briefly unavailable; try again",
        "The database could not be reached. Nothing from this request was stored.",
        {"Retry-After": "5"},
    )


def handle_data_error(error: Exception) -> Response:
    # The database refused a value the schemas let through (e.g. a number beyond a column's range).
    log.warning("database refused a value: %s", type(getattr(error, "orig", error)).__name__)
    return problem_response(
        422,
        "value-out-of-range",
        "A value is outside what can be stored",
        "A value in the request is out of range for its field. Nothing was stored.",
    )


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error")
    return problem_response(
        500,
        "internal-error",
        "Internal server error",
        "Something went wrong on our side; it has been logged.",
    )


def init_app(app: Flask) -> None:
    import sqlalchemy.exc as sa_exc  # here: the domain errors alone need not load SQLAlchemy

    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sa_exc.DataError, handle_data_error)
    app.register_error_handler(OverflowError, handle_data_error)
    app.register_error_handler(sa_exc.OperationalError, handle_database_unavailable)
    app.register_error_handler(sa_exc.InterfaceError, handle_database_unavailable)
    app.register_error_handler(sa_exc.TimeoutError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
