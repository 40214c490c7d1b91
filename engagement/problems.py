"""The domain exceptions that services raise, each one problem type (RFC 9457).

Kept apart from :mod:`engagement.errors`, which answers them over HTTP, so that code that runs
without Flask (the research file writers) can raise them.
A problem's ``type`` is ``urn:moba-engagement:problem:<slug>``; the slug is part of the API contract
(the app branches on it), so slugs are never renamed.
"""

from __future__ import annotations

from typing import Any

PROBLEM_TYPE_PREFIX = "urn:moba-engagement:problem:"


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_PREFIX + slug


class DomainError(Exception):
    """Base of the errors services raise; each subclass is one problem type."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra


class BadRequest(DomainError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "The resource changed since you read it"


class PreconditionRequired(DomainError):
    status, slug, title = 428, "precondition-required", "This request must be conditional (If-Match)"


class ValidationFailed(DomainError):
    """Field-level errors: ``errors`` maps a field (or item) to its list of messages."""

    status, slug, title = 422, "validation-failed", "The request did not pass validation"

    def __init__(self, errors: dict[str, Any], detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or "See 'errors' for each field that failed.", errors=errors, **extra)


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "The service is briefly unavailable; try again"
