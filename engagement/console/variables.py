"""``/console/variables``: the variable catalogue as staff browse it, and each variable's page with the
research projects whose deliveries held it.

The search, the filters and the pages are the public catalogue's own
(:mod:`engagement.catalogue.services`, the query read by its schema); the console adds only which
projects received the variable (:func:`engagement.research.releases.projects_receiving`), shown to
those who may see the projects: a researcher sees their own.

Roles: those of ``GET /v1/research/projects``. The catalogue's API is public, but the "received by"
part names research projects, which only that route's callers may list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import marshmallow as ma
from flask import request
from flask.typing import ResponseReturnValue

from engagement.catalogue import schemas as catalogue_schemas
from engagement.catalogue import services as catalogue
from engagement.console import services as console
from engagement.console.web import Page, bp, console_page, current_user, render
from engagement.research import projects as research
from engagement.research import releases
from engagement.security import Principal

READERS = ("admin", "coordinator", "researcher")  # as GET /v1/research/projects
FILTERS = ("q", "questionnaire", "version", "section", "scale", "type")
PAGE_SIZE = 25


def _principal() -> Principal:
    user = current_user()
    assert user is not None  # console_page let the request in
    return Principal("staff", user.staff_id, user.session_id, console.CLIENT_ID, user.roles)


def _choices(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the filters offer: the values the catalogue holds."""
    sections: dict[str, Any] = {}
    scales: dict[str, str] = {}
    for entry in entries:
        sections.setdefault(entry["section"]["id"], entry["section"]["title"])
        if entry["scale"] is not None:
            scales.setdefault(entry["scale"]["id"], entry["scale"]["name"])
    return {
        "questionnaires": sorted({e["questionnaire"] for e in entries}),
        "versions": sorted({v["version"] for e in entries for v in e["versions"]}),
        "sections": sorted(sections.items()),
        "scales": sorted(scales.items(), key=lambda pair: pair[1]),
        "types": sorted({e["item_type"] for e in entries}),
    }


@bp.get("/variables")
@console_page(*READERS)
def variables() -> ResponseReturnValue:
    """Search the variables of every published questionnaire, as ``GET /catalog/variables`` does."""
    entries = catalogue.variables()
    form = {name: request.args.get(name, "").strip() for name in FILTERS}
    asked = {name: value for name, value in form.items() if value}
    if "page" in request.args:
        asked["page"] = request.args["page"]
    try:
        args = catalogue_schemas.CatalogueVariableSearchArgsSchema().load(
            {**asked, "page_size": PAGE_SIZE}, unknown=ma.RAISE
        )
    except ma.ValidationError as invalid:
        messages = invalid.messages if isinstance(invalid.messages, dict) else {}
        errors = {field: [str(m) for m in found] for field, found in messages.items()}
        return render("console/variables.html", 422, form=form, errors=errors, page=None, **_choices(entries))
    page_number, size = args.pop("page"), args.pop("page_size")
    found = catalogue.search(entries, type_=args.pop("type", None), **args)
    pages = max(1, math.ceil(len(found) / size))
    page_number = min(page_number, pages)
    page = Page(
        found[(page_number - 1) * size : page_number * size],
        page_number,
        pages,
        len(found),
        sort="name",
        descending=False,
    )
    return render("console/variables.html", form=form, errors={}, page=page, **_choices(entries))


@bp.get("/variables/<name>")
@console_page(*READERS)
def variable(name: str) -> ResponseReturnValue:
    """One variable as ``GET /catalog/variables/<name>`` shows it, and the projects that received it."""
    entry = catalogue.variable(name, request.args.get("questionnaire") or None)
    visible = {project.code for project in research.list_projects(_principal())}
    versions = {source["version"] for source in entry["lineage"]}
    received = [r for r in releases.projects_receiving(entry["questionnaire"], versions) if r.code in visible]
    labels = {source["version"]: source["version_label"] for source in entry["lineage"]}
    return render("console/variable.html", entry=entry, received=received, labels=labels)
