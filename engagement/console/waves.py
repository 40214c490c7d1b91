"""``/console/waves``: the list, a new wave, one wave (preview, launch, close, statistics, CSV).

Each page checks the roles of the API route it mirrors and calls the same services; the form takes
every field of the API's :class:`engagement.waves.schemas.WaveCreateSchema` and passes its errors, and
those of :func:`engagement.waves.services.create_wave`, back to the fields they concern.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import marshmallow as ma
from flask import Response, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from engagement import clock
from engagement.consent import documents
from engagement.console import charts
from engagement.console.services import record_action
from engagement.console.web import bp, console_page, paginate, render
from engagement.participants.services import today_in_oslo
from engagement.questionnaires import services as questionnaires
from engagement.waves import figures as wave_figures
from engagement.waves import services as waves
from engagement.waves.models import Wave
from engagement.waves.reminders import ReminderPolicy
from engagement.waves.routes import COORDINATOR_ROLES
from engagement.waves.schemas import WaveCreateSchema

ROLES = COORDINATOR_ROLES
SORTABLE = ("name", "status", "questionnaire_key", "opens_at", "closes_at", "created_at", "tasks")


@bp.get("/waves", endpoint="waves")
@console_page(*ROLES)
def waves_list() -> ResponseReturnValue:
    """Every wave, sorted and paged on the server."""
    query = wave_figures.waves_table()
    columns = {name: query.selected_columns[name] for name in SORTABLE}
    page = paginate(query, columns, "created_at", default_descending=True)
    return render("console/waves.html", page=page)


@bp.route("/waves/new", methods=["GET", "POST"])
@console_page(*ROLES)
def wave_new() -> ResponseReturnValue:
    """The form for a new wave; on success, the new wave's page (a draft, to preview and launch)."""
    form = request.form if request.method == "POST" else _defaults()
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        payload, errors = _payload(request.form)
        if not errors:
            try:
                args = WaveCreateSchema().load(payload)
                wave = waves.create_wave(created_by=g.console_user.staff_id, **args)
            except ma.ValidationError as exc:
                errors = _field_errors(exc.messages)
            except waves.WaveInvalid as exc:
                errors = _field_errors(exc.extra.get("errors", {}))
            except questionnaires.QuestionnaireNotFound as exc:
                errors = {"questionnaire": [exc.detail]}
            else:
                record_action(g.console_user, "wave.created", "wave", wave.id)
                return redirect(url_for("console.wave", wave_id=wave.id), 303)
    return render(
        "console/wave_new.html",
        form=form,
        errors=errors,
        versions=sorted(questionnaires.published_definitions().values(), key=lambda v: (v.key, v.version)),
        purposes=documents.current_document(clock.now()).content["purposes"],
    )


@bp.get("/waves/<uuid:wave_id>")
@console_page(*ROLES)
def wave(wave_id: uuid.UUID) -> ResponseReturnValue:
    """One wave: its settings; a draft's preview; a launched or closed wave's statistics."""
    found = waves.get_wave(wave_id)
    now = clock.now()
    context: dict[str, Any] = {"wave": found, "policy": waves.policy_of(found)}
    if found.status == "draft":
        context["preview"] = wave_figures.preview_breakdown(found, now)
        context["schedule"] = wave_figures.sample_schedule(found, now)
    else:
        figures = wave_figures.stats(wave_id, now, count_eligible=False)  # the page does not show it
        context["stats"] = figures
        context["chart"] = charts.daily(figures["daily"], g.console_lang)
        context["cumulative"] = charts.cumulative_rate(figures["daily"], figures["tasks"], g.console_lang)
        context["by_reminder"] = wave_figures.response_by_reminder(wave_id)
    return render("console/wave.html", **context)


@bp.route("/waves/<uuid:wave_id>/launch", methods=["GET", "POST"])
@console_page(*ROLES)
def wave_launch(wave_id: uuid.UUID) -> ResponseReturnValue:
    """Ask for confirmation (GET), then launch: freeze the list and give every eligible person a task."""
    found = waves.get_wave(wave_id)
    if request.method == "GET":
        preview = wave_figures.preview_breakdown(found, clock.now())
        return render("console/wave_confirm.html", wave=found, action="launch", count=preview["eligible"])
    launched, created = waves.launch(wave_id, clock.now(), actor_id=g.console_user.staff_id)
    record_action(g.console_user, "console.wave_launched", "wave", launched.id, {"tasks": created})
    return redirect(url_for("console.wave", wave_id=wave_id, done="launched"), 303)


@bp.route("/waves/<uuid:wave_id>/close", methods=["GET", "POST"])
@console_page(*ROLES)
def wave_close(wave_id: uuid.UUID) -> ResponseReturnValue:
    """Ask for confirmation (GET), then close: open tasks expire and pending reminders are cancelled."""
    found = waves.get_wave(wave_id)
    if request.method == "GET":
        return render("console/wave_confirm.html", wave=found, action="close", count=None)
    closed, expired, cancelled = waves.close(wave_id, clock.now(), actor_id=g.console_user.staff_id)
    record_action(
        g.console_user,
        "console.wave_closed",
        "wave",
        closed.id,
        {"tasks_expired": expired, "reminders_cancelled": cancelled},
    )
    return redirect(url_for("console.wave", wave_id=wave_id, done="closed"), 303)


@bp.get("/waves/<uuid:wave_id>/stats.csv")
@console_page(*ROLES)
def wave_stats_csv(wave_id: uuid.UUID) -> ResponseReturnValue:
    """The daily series as CSV, as ``GET /v1/admin/waves/<id>/stats?format=csv`` gives it."""
    figures = wave_figures.stats(wave_id, clock.now(), count_eligible=False)  # the CSV holds the daily series
    record_action(g.console_user, "console.wave_stats_downloaded", "wave", wave_id)
    return Response(
        wave_figures.stats_csv(figures),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="wave-{wave_id}-daily.csv"'},
    )


# --- the form -------------------------------------------------------------------------------------


def _defaults() -> MultiDict[str, str]:
    policy = ReminderPolicy()
    today = today_in_oslo()
    quiet = policy.quiet_hours[0] if policy.quiet_hours else None
    return MultiDict(
        {
            "eligibility_kind": "age",
            "min_age": "18",
            "opens_at": f"{today.isoformat()}T09:00",
            "closes_at": f"{date(today.year + (today.month == 12), today.month % 12 + 1, 1).isoformat()}T09:00",
            "offsets_days": ", ".join(str(d) for d in policy.offsets_days),
            "window_start": policy.window.start.strftime("%H:%M"),
            "window_end": policy.window.end.strftime("%H:%M"),
            "quiet_start": quiet.start.strftime("%H:%M") if quiet and quiet.start else "",
            "quiet_end": quiet.end.strftime("%H:%M") if quiet and quiet.end else "",
            "max_per_wave": str(policy.max_per_wave),
            "weekly_cap": str(policy.weekly_cap),
            "min_gap_hours": str(policy.min_gap_hours),
        }
    )


def _payload(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The API's JSON body from the form, and the fields the form itself could not read."""
    errors: dict[str, list[str]] = {}

    def number(name: str, *, required: bool = True) -> int | None:
        raw = form.get(name, "").strip()
        if not raw:
            if required:
                errors[name] = ["Enter a whole number."]
            return None
        try:
            return int(raw)
        except ValueError:
            errors[name] = ["Enter a whole number."]
            return None

    def day(name: str) -> str | None:
        raw = form.get(name, "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            errors[name] = ["Enter a date (YYYY-MM-DD)."]
            return None

    def moment(name: str) -> str | None:
        raw = form.get(name, "").strip()
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=clock.OSLO).isoformat()
        except ValueError:
            errors[name] = ["Enter a date and time (Europe/Oslo)."]
            return None

    def clock_time(name: str) -> str | None:
        raw = form.get(name, "").strip()
        if not raw:
            return None
        try:
            return time.fromisoformat(raw).strftime("%H:%M")
        except ValueError:
            errors[name] = ["Enter a time (HH:MM)."]
            return None

    key, _, version = form.get("questionnaire", "").partition(":")
    kind = form.get("eligibility_kind", "")
    eligibility: dict[str, Any] = {"kind": kind}
    if kind == "age":
        eligibility["min_age"] = number("min_age")
        max_age = number("max_age", required=False)
        if max_age is not None:
            eligibility["max_age"] = max_age
        on = day("age_on")
        if on:
            eligibility["on"] = on
    elif kind == "turns_18_between":
        eligibility["from"], eligibility["to"] = day("turns_from"), day("turns_to")
        for name in ("turns_from", "turns_to"):
            if not form.get(name):
                errors[name] = ["Enter a date (YYYY-MM-DD)."]
    offsets: list[int] = []
    for part in form.get("offsets_days", "").replace(";", ",").split(","):
        if part.strip():
            try:
                offsets.append(int(part))
            except ValueError:
                errors["offsets_days"] = ["Enter whole days, separated by commas (for example 0, 3, 7)."]
    policy: dict[str, Any] = {
        "offsets_days": offsets,
        "window": {"start": clock_time("window_start"), "end": clock_time("window_end")},
        "quiet_hours": [],
        "max_per_wave": number("max_per_wave"),
        "weekly_cap": number("weekly_cap"),
        "min_gap_hours": number("min_gap_hours"),
    }
    quiet_start, quiet_end = clock_time("quiet_start"), clock_time("quiet_end")
    if quiet_start and quiet_end:
        policy["quiet_hours"] = [{"start": quiet_start, "end": quiet_end}]
    elif quiet_start or quiet_end:
        errors["quiet_start"] = ["Give both the start and the end of the quiet hours, or neither."]
    payload = {
        "name": form.get("name", "").strip(),
        "questionnaire_key": key,
        "questionnaire_version": version,
        "eligibility": eligibility,
        "required_purposes": form.getlist("purposes"),
        "opens_at": moment("opens_at"),
        "closes_at": moment("closes_at"),
        "rolling": form.get("rolling") == "on",
        "reminder_policy": policy,
    }
    if not key or not version:
        errors["questionnaire"] = ["Choose a questionnaire version."]
    return payload, errors


# The API's field names, and the form field (or group) each one's errors are shown next to.
_FIELDS = {
    "questionnaire_key": "questionnaire",
    "questionnaire_version": "questionnaire",
    "required_purposes": "purposes",
}


def _field_errors(messages: Any) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name, found in (messages or {}).items():
        field = _FIELDS.get(name, name)
        errors.setdefault(field, []).extend(_flatten(found))
    return errors


def _flatten(found: Any) -> list[str]:
    if isinstance(found, str):
        return [found]
    if isinstance(found, dict):
        return [
            f"{key}: {m}" if not isinstance(key, int) else m for key, v in found.items() for m in _flatten(v)
        ]
    return [m for item in found for m in _flatten(item)]


def wave_title(wave: Wave) -> str:
    return f"{wave.name} ({wave.questionnaire_version.key} v{wave.questionnaire_version.version})"
