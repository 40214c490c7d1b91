"""``/console/reminders``: the outbox by status, failed delivery attempts by class per day (a chart
with its table), and the devices taken out of use, for the last 30 days."""

from __future__ import annotations

from datetime import timedelta

from flask import g
from flask.typing import ResponseReturnValue

from engagement import clock
from engagement.console import charts
from engagement.console.i18n import translate
from engagement.console.web import bp, console_page, render
from engagement.devices import services as devices
from engagement.participants.services import today_in_oslo
from engagement.waves import figures as wave_figures

ROLES = ("coordinator", "admin")  # as the wave and outbox routes under /v1/admin/waves
DAYS = 30
CLASSES = ("failed", "backoff", "retry_after", "deactivate_device")


@bp.get("/reminders")
@console_page(*ROLES)
def reminders() -> ResponseReturnValue:
    """The outbox now, and what went wrong in the last 30 days."""
    now = clock.now()
    since = now - timedelta(days=DAYS)
    failures = wave_figures.failures_by_class(since, now)
    deactivated = devices.deactivations(since, now)
    chart = None
    if failures:
        first, last = today_in_oslo(since), today_in_oslo(now)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        counts = {(row["date"], row["class"]): row["attempts"] for row in failures}
        language = g.get("console_lang", "nb")
        chart = charts.line_chart(
            translate(language, "reminders.chart_title", days=DAYS),
            [d.isoformat() for d in days],
            [
                (
                    c,
                    translate(language, f"reminders.class.{c}"),
                    [float(counts.get((d, c), 0)) for d in days],
                )
                for c in CLASSES
            ],
        )
    return render(
        "console/reminders.html",
        outbox=wave_figures.outbox_by_status(),
        failures=failures,
        deactivated=deactivated,
        chart=chart,
        days=DAYS,
    )
