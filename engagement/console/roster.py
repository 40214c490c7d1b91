"""``/console/roster``: upload a roster file, see what importing it would do line by line (numbers
masked), then apply it behind a confirmation.

The dry run is the roster service's own (:func:`engagement.participants.roster.plan_roster`): the
console only shows it. What is kept between the dry run and the apply holds hashes, never numbers,
and the apply checks the database again (:func:`~engagement.participants.roster.apply_staged_roster`).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from engagement.console import services as console
from engagement.console.web import bp, console_page, current_user, render
from engagement.participants.roster import (
    RosterRejected,
    RosterUploadNotFound,
    apply_staged_roster,
    parse_roster,
    plan_roster,
    stage_roster,
)

ROLES = ("coordinator", "admin")  # as POST /v1/admin/roster
MEDIA_TYPES = {".csv": "text/csv", ".json": "application/json"}


def _user() -> console.ConsoleUser:
    user = current_user()
    assert user is not None  # console_page let the request in
    return user


@bp.get("/roster")
@console_page(*ROLES)
def roster() -> ResponseReturnValue:
    """The upload form."""
    return render("console/roster.html", errors={}, plan=None, upload=None)


@bp.post("/roster")
@console_page(*ROLES)
def roster_dry_run() -> ResponseReturnValue:
    """A dry run of the uploaded file: what each line would do, and why a line would be refused."""
    upload = request.files.get("roster")
    if upload is None or not upload.filename:
        return render(
            "console/roster.html", 422, errors={"roster": ["roster.no_file"]}, plan=None, upload=None
        )
    name = upload.filename.lower()
    media_type = next((t for ext, t in MEDIA_TYPES.items() if name.endswith(ext)), "text/csv")
    try:
        records = parse_roster(upload.read(), media_type)
    except RosterRejected as refused:
        return render("console/roster.html", 422, errors=_file_errors(refused), plan=None, upload=None)
    plan = plan_roster(records)
    user = _user()
    counts = {o: plan.count(o) for o in ("create", "update", "unchanged", "refused")}
    staged = None if plan.problems else stage_roster(plan, user.staff_id)
    console.record_action(
        user,
        "roster.dry_run",
        "roster_upload",
        staged.id if staged else None,
        {"lines": len(plan.lines), **counts},
    )
    return render(
        "console/roster.html",
        200 if staged else 422,
        errors={},
        plan=plan,
        counts=counts,
        upload=staged,
        file_problems=plan.file_problems,
    )


def _file_errors(refused: RosterRejected) -> dict[str, list[str]]:
    lines: list[dict[str, Any]] = refused.extra.get("errors", {}).get("lines", [])
    messages = [
        (f"line {entry['line']}: " if entry["line"] else "") + "; ".join(entry["reasons"]) for entry in lines
    ]
    return {"roster": messages or [refused.detail]}


@bp.post("/roster/<uuid:upload_id>/apply")
@console_page(*ROLES)
def roster_apply(upload_id: uuid.UUID) -> ResponseReturnValue:
    """Apply a dry run (after the confirmation on its page): all or nothing, checked again first."""
    try:
        result = apply_staged_roster(upload_id, _user().staff_id)
    except RosterUploadNotFound:
        return render("console/roster.html", 404, errors={"roster": ["roster.gone"]}, plan=None, upload=None)
    except RosterRejected as refused:
        return render("console/roster.html", 409, errors=_file_errors(refused), plan=None, upload=None)
    return render("console/roster.html", errors={}, plan=None, upload=None, result=result)
