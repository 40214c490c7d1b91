"""``/console/audit``: the audit log for admins, filtered by actor, action and Oslo dates, paginated."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import request
from flask.typing import ResponseReturnValue

from engagement import audit, clock
from engagement.console.web import bp, console_page, render

ROLES = ("admin",)
PER_PAGE = 50


def _day(name: str, errors: dict[str, list[str]]) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = ["YYYY-MM-DD"]
        return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), clock.OSLO)


@bp.get("/audit")
@console_page(*ROLES)
def audit_log() -> ResponseReturnValue:
    """Audit events, newest first."""
    errors: dict[str, list[str]] = {}
    since, until = _day("from", errors), _day("to", errors)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    found = audit.search(
        actor=request.args.get("actor", "").strip()[:64] or None,
        action=request.args.get("action", "").strip()[:64] or None,
        since=_start_of(since) if since else None,
        until=_start_of(until + timedelta(days=1)) if until else None,
        page=page,
        per_page=PER_PAGE,
    )
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render(
        "console/audit.html",
        200 if not errors else 422,
        found=found,
        actions=audit.actions(),
        args=args,
        errors=errors,
    )
