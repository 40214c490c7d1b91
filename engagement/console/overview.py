"""``/console``: the overview. Every figure is an aggregate in SQL from the owning domain's services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import g
from flask.typing import ResponseReturnValue

from engagement import clock
from engagement.auth import sessions
from engagement.consent import counts, documents
from engagement.console.web import STAFF, bp, console_page, render
from engagement.participants.services import today_in_oslo
from engagement.waves import figures as wave_figures
from engagement.withdrawal import services as withdrawal

FIGURE_ROLES = ("coordinator", "admin")
RECENT_LOGINS = timedelta(days=30)
RECENT_REMINDERS = timedelta(days=7)


@bp.get("")
@console_page(*STAFF)
def overview() -> ResponseReturnValue:
    """The overview: the roster, logins, consent, deletion requests, running waves and reminders."""
    figures = _figures(g.console_lang) if g.console_user.has_any(FIGURE_ROLES) else None
    return render("console/overview.html", figures=figures)


def _figures(language: str) -> dict[str, Any]:
    now = clock.now()
    roster = wave_figures.coming_of_age(today_in_oslo(now))
    document = documents.current_document(now)
    decided = counts.decision_counts(now)
    purposes = []
    for purpose in document.content["purposes"]:
        yes_no = decided.get(purpose["code"], {"yes": 0, "no": 0})
        purposes.append(
            {
                "code": purpose["code"],
                "title": purpose["title"].get(language) or purpose["title"].get("nb"),
                "yes": yes_no["yes"],
                "no": yes_no["no"],
                "undecided": max(0, roster["adults"] - yes_no["yes"] - yes_no["no"]),
            }
        )
    return {
        "roster": roster,
        "logins": sessions.participants_logged_in(now - RECENT_LOGINS),
        "purposes": purposes,
        "withdrawals": counts.withdrawal_counts(now),
        "deletion_requests": withdrawal.open_deletion_requests(),
        "running_waves": wave_figures.running_waves(now),
        "reminders": wave_figures.reminder_counts(now - RECENT_REMINDERS),
    }
