"""``/console/projects``: research projects, their releases with the manifest's summary, every file
(streamed), and the codebook as a table to search. A researcher sees only their own projects and only
they download; admins register projects and add researchers; admins and coordinators request an
extract. Each page checks the roles of the API route it mirrors, and goes through the same services.
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import redirect, request, send_file, url_for
from flask.typing import ResponseReturnValue

from engagement.clock import now
from engagement.consent import documents
from engagement.console import services as console
from engagement.console.web import bp, console_page, current_user, render
from engagement.problems import DomainError, ValidationFailed
from engagement.questionnaires import services as questionnaires
from engagement.research import downloads, jobs, releases, schemas
from engagement.research import projects as research
from engagement.research.models import ResearchProject
from engagement.security import Principal

ADMINS = ("admin",)  # as POST /v1/admin/research-projects
READERS = ("admin", "coordinator", "researcher")  # as GET /v1/research/projects(/<code>)
# as POST /v1/research/projects/<code>/extracts: its route lets staff in, then only these may write one
EXTRACTORS = ("admin", "coordinator")
DOWNLOADERS = ("researcher",)  # as GET /v1/research/projects/<code>/extracts/<release>/files/<path>


def _user() -> console.ConsoleUser:
    user = current_user()
    assert user is not None  # console_page let the request in
    return user


def _principal() -> Principal:
    """The signed-in staff user as the research services know a caller."""
    user = _user()
    return Principal("staff", user.staff_id, user.session_id, console.CLIENT_ID, user.roles)


def _choices() -> dict[str, Any]:
    try:
        purposes = documents.current_document(now()).purpose_codes
    except documents.ConsentDocumentMissing:
        purposes = []
    keys = sorted({row.key for row in questionnaires.latest_versions()})
    return {"purposes": purposes, "questionnaire_keys": keys, "researchers": research.researchers()}


@bp.get("/projects")
@console_page(*READERS)
def projects() -> ResponseReturnValue:
    """The projects the user may see (a researcher: only their own)."""
    return render(
        "console/projects.html",
        projects=research.list_projects(_principal()),
        form={},
        errors={},
        **_choices(),
    )


@bp.post("/projects")
@console_page(*ADMINS)
def project_create() -> ResponseReturnValue:
    """Register an approved project, with the same checks as the API."""
    form = {
        "code": request.form.get("code", "").strip(),
        "title": request.form.get("title", "").strip(),
        "approval_reference": request.form.get("approval_reference", "").strip(),
        "purposes": request.form.getlist("purposes"),
        "questionnaires": request.form.getlist("questionnaires"),
        "members": request.form.getlist("members"),
        "folder": request.form.get("folder", "").strip() or None,
        "data_use_codes": [c.strip() for c in request.form.get("data_use_codes", "").split(",") if c.strip()],
    }
    try:
        body = schemas.ResearchProjectLoadSchema().load(form)
        project = research.create_project(
            code=body["code"],
            title=body["title"],
            approval_reference=body["approval_reference"],
            purposes=body["purposes"],
            questionnaires_=body["questionnaires"],
            members=body["members"],
            folder=body["folder"],
            data_use_codes=body["data_use_codes"],
            actor_id=_user().staff_id,
        )
    except ma.ValidationError as invalid:
        return _form_again(form, _flat(invalid.messages))
    except ValidationFailed as invalid:
        return _form_again(form, _flat(invalid.extra.get("errors", {})))
    except DomainError as refused:
        return _form_again(form, {"code": [refused.detail]})
    return redirect(url_for("console.project", code=project.code), 303)


def _form_again(form: dict[str, Any], errors: dict[str, list[str]]) -> tuple[str, int]:
    return render(
        "console/projects.html",
        422,
        projects=research.list_projects(_principal()),
        form=form,
        errors=errors,
        **_choices(),
    )


def _flat(messages: Any) -> dict[str, list[str]]:
    """Field -> messages, whatever the nesting marshmallow gave (list items are folded into their field)."""
    flat: dict[str, list[str]] = {}
    for field, value in (messages or {}).items():
        if isinstance(value, dict):
            flat[field] = [
                str(m) for inner in value.values() for m in (inner if isinstance(inner, list) else [inner])
            ]
        else:
            flat[field] = [str(m) for m in (value if isinstance(value, list) else [value])]
    return flat


@bp.get("/projects/<code>")
@console_page(*READERS)
def project(code: str) -> ResponseReturnValue:
    """One project: approval, purposes, members, and its releases with their files."""
    found = research.project_for(_principal(), code)
    return _project_page(found)


def _project_page(
    found: ResearchProject, status: int = 200, errors: dict[str, list[str]] | None = None
) -> tuple[str, int]:
    user = _user()
    members = research.members_of(found)
    member_ids = {m.id for m in members}
    return render(
        "console/project.html",
        status,
        project=found,
        members=members,
        candidates=[r for r in research.researchers() if r.id not in member_ids],
        releases=releases.releases(found),
        jobs=[jobs.job_view(job) for job in jobs.latest_jobs(found)],
        may_download=user.has_any(DOWNLOADERS) and user.staff_id in found.member_ids(),
        errors=errors or {},
    )


@bp.post("/projects/<code>/members")
@console_page(*ADMINS)
def project_add_member(code: str) -> ResponseReturnValue:
    """Add a researcher to the project."""
    found = research.project_for(_principal(), code)
    try:
        staff_id = uuid.UUID(request.form.get("member", ""))
        research.add_member(found, staff_id, actor_id=_user().staff_id)
    except ValueError:
        return _project_page(found, 422, {"member": ["choose a researcher"]})
    except ValidationFailed as invalid:
        return _project_page(
            found, 422, {"member": _flat(invalid.extra.get("errors", {})).get("members", [])}
        )
    return redirect(url_for("console.project", code=code), 303)


@bp.post("/projects/<code>/extracts")
@console_page(*READERS)
def project_extract(code: str) -> ResponseReturnValue:
    """Write a delivery (full, or what changed since the last one): admins and coordinators."""
    if not _user().has_any(EXTRACTORS):
        raise research.NotProjectMember("Only admins and coordinators write deliveries.")
    kind = request.form.get("kind", "full")
    if request.form.get("confirm") != "yes":
        return _project_page(research.get_project(code), 422, {"extract": ["extract.confirm_first"]})
    found = research.get_project(code)
    user = _user()
    try:
        jobs.request_extract(found, kind, actor_kind="staff", actor_id=user.staff_id)
    except ValidationFailed as invalid:
        return _project_page(
            found, 422, {"extract": _flat(invalid.extra.get("errors", {})).get("kind", [invalid.detail])}
        )
    except jobs.ExtractJobRunning as running:
        return _project_page(found, 409, {"extract": [running.detail]})
    return redirect(url_for("console.project", code=code), 303)


@bp.get("/projects/<code>/releases/<release>/files/<path:path>")
@console_page(*DOWNLOADERS)
def project_file(code: str, release: str, path: str) -> Any:
    """One file of a delivery, streamed from the data store (only the project's researchers); audited."""
    principal = _principal()
    found = research.project_for(principal, code, members_only=True)
    file = downloads.extract_file(found, release, path)
    downloads.record_download(found, release, path, principal.subject)
    return send_file(file, as_attachment=True, download_name=file.name, max_age=0)


@bp.get("/projects/<code>/releases/<release>/codebook")
@console_page(*READERS)
def project_codebook(code: str, release: str) -> ResponseReturnValue:
    """The release's codebook, searchable: variable, label, type, value labels, missing codes, source."""
    found = research.project_for(_principal(), code)
    search = request.args.get("q", "")[:100]
    try:
        page_number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page_number = 1
    page = releases.codebook(found, release, search=search, page=page_number)
    return render("console/codebook.html", project=found, release=release, search=search, page=page)
