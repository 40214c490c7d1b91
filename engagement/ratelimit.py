"""Rate limits (flask-limiter): per client address on ``/auth``, per participant on submissions and on
draft saves.

Storage is in memory by default; ``ENGAGEMENT_RATE_LIMIT_STORAGE=redis://…`` shares counters across
processes and hosts. Exceeding a limit answers 429 problem+json with ``Retry-After``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def client_address() -> str:
    return get_remote_address()


def participant_or_address() -> str:
    """The calling participant when authenticated (tokens are checked before the limit), else the address."""
    principal = request.environ.get("engagement.principal")
    return f"p:{principal.subject}" if principal is not None else f"a:{get_remote_address()}"


# No X-RateLimit headers on every answer: they cost the store two more reads per limited request. A
# refusal still says when to come back (Retry-After, from the breached window, read only then).
log = logging.getLogger(__name__)
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=False)


def auth_limit() -> Callable[[Any], Any]:
    """Decorator for the ``/auth`` endpoints."""
    return limiter.limit(lambda: current_app.config["RATE_LIMIT_AUTH"], key_func=client_address)


def submission_limit() -> Callable[[Any], Any]:
    """Decorator for questionnaire submissions (apply it inside ``participant_required``)."""
    return limiter.limit(lambda: current_app.config["RATE_LIMIT_SUBMISSION"], key_func=participant_or_address)


def draft_limit() -> Callable[[Any], Any]:
    """Decorator for draft saves (``PUT`` only; apply it inside ``participant_required``)."""
    return limiter.limit(
        lambda: current_app.config["RATE_LIMIT_DRAFT"], key_func=participant_or_address, methods=["PUT"]
    )


def init_app(app: Flask) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = app.config["RATE_LIMIT_STORAGE"]
    app.config["RATELIMIT_HEADERS_ENABLED"] = False
    app.config["RATELIMIT_SWALLOW_ERRORS"] = True  # a storage outage must not take the API down
    limiter.init_app(app)

    @app.after_request
    def _retry_after_on_429(response: Any) -> Any:
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(_seconds_until_reset())
        return response


def _seconds_until_reset() -> int:
    """Seconds until the breached limit's window resets (60 when the store cannot tell)."""
    try:
        breached = limiter.current_limit
        if breached is not None:
            return max(1, int(breached.reset_at - time.time()))
    except Exception:  # the store is down: a refusal must still answer
        log.warning("rate-limit store unreadable; Retry-After 60", exc_info=True)
    return 60
