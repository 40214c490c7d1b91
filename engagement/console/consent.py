"""``/console/consent``: the consent documents and their versions with their texts, the decision state
per purpose over time (a chart with its table), and the queue of childhood-data deletion requests,
each marked done with a reference and a note (behind a confirmation)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import g, redirect, request, url_for
from flask.typing import ResponseReturnValue

from engagement import clock
from engagement.consent.models import DECISIONS, ConsentDocument
from engagement.consent.timeline import decision_timeline, default_window
from engagement.console import charts
from engagement.console.i18n import translate
from engagement.console.web import bp, console_page, current_user, render
from engagement.extensions import db
from engagement.problems import Conflict, NotFound
from engagement.withdrawal import services as withdrawal

ROLES = ("coordinator", "admin")  # as GET /v1/admin/consent/summary and the deletion-request routes
FIELD_LIMITS = {"reference": 100, "note": 500}


def _page(
    status: int = 200, errors: dict[str, dict[str, list[str]]] | None = None, **extra: Any
) -> tuple[str, int]:
    documents = list(
        db.session.scalars(
            sa.select(ConsentDocument).order_by(ConsentDocument.key, ConsentDocument.version.desc())
        )
    )
    since, until = default_window(clock.now())
    timeline = decision_timeline(since, until)
    purpose = request.args.get("purpose", "")
    if purpose not in timeline.purposes:
        purpose = timeline.purposes[0] if timeline.purposes else ""
    language = g.get("console_lang", "nb")
    chart = None
    if purpose:
        chart = charts.line_chart(
            translate(language, "consent.chart_title", purpose=purpose),
            [day.isoformat() for day in timeline.days],
            [
                (
                    d,
                    translate(language, f"consent.decision.{d}"),
                    [float(v) for v in timeline.counts[(purpose, d)]],
                )
                for d in DECISIONS
            ],
        )
    latest = (
        {p: {d: timeline.counts[(p, d)][-1] for d in DECISIONS} for p in timeline.purposes}
        if timeline.days
        else {}
    )
    return render(
        "console/consent.html",
        status,
        documents=documents,
        timeline=timeline,
        purpose=purpose,
        chart=chart,
        latest=latest,
        since=since,
        until=until,
        requests=withdrawal.deletion_requests("open"),
        done=withdrawal.deletion_requests("done")[-20:][::-1],
        errors=errors or {},
        **extra,
    )


@bp.get("/consent")
@console_page(*ROLES)
def consent() -> ResponseReturnValue:
    """Documents, decisions over time, and the deletion-request queue."""
    return _page()


@bp.post("/consent/deletion-requests/<uuid:request_id>/done")
@console_page(*ROLES)
def deletion_done(request_id: uuid.UUID) -> ResponseReturnValue:
    """Mark a childhood-data deletion done in the cohort's files, with its reference and a note."""
    form = {name: request.form.get(name, "").strip() for name in FIELD_LIMITS}
    errors: dict[str, list[str]] = {}
    for name, limit in FIELD_LIMITS.items():
        if len(form[name]) > limit:
            errors[name] = [translate(g.get("console_lang", "nb"), "form.too_long", limit=limit)]
    if request.form.get("confirm") != "yes":
        errors["confirm"] = [translate(g.get("console_lang", "nb"), "extract.confirm_first")]
    if errors:
        return _page(422, {str(request_id): errors}, values={str(request_id): form})
    user = current_user()
    assert user is not None
    try:
        withdrawal.mark_deletion_done(
            request_id, user.staff_id, clock.now(), form["note"] or None, form["reference"] or None
        )
    except (NotFound, Conflict) as refused:
        return _page(
            409 if isinstance(refused, Conflict) else 404, {str(request_id): {"confirm": [refused.detail]}}
        )
    return redirect(url_for("console.consent", done=str(request_id)), 303)
