"""Every route declares who may call it, and the README's route-access table lists every route."""

from __future__ import annotations

import re

from tests.conftest import ROOT

PUBLIC = {
    "health.": "anyone",
    "oauth.": "anyone (OAuth endpoint)",
    "wellknown.": "anyone",
    "api-docs.": "anyone",
}
IGNORED = ("static", "docs_asset", "dev_", "api-docs.openapi_swagger_ui")


def _routes(app):
    for rule in app.url_map.iter_rules():
        if (
            rule.endpoint.startswith(IGNORED)
            or rule.endpoint.endswith(".static")
            or rule.rule.startswith("/dev/")
        ):
            continue
        view = app.view_functions[rule.endpoint]
        access = getattr(view, "_access", None)
        if access is None:
            access = next((who for prefix, who in PUBLIC.items() if rule.endpoint.startswith(prefix)), None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, access


def test_every_route_declares_who_may_call_it(app):
    undeclared = [(m, r) for m, r, access in _routes(app) if access is None]
    assert undeclared == []


def test_readme_lists_every_route_with_its_callers(app):
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `([A-Z]+)` \| `([^`]+)` \|", readme, flags=re.M))
    missing = [
        (m, r) for m, r, _ in _routes(app) if (m, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r)) not in listed
    ]
    assert missing == []


def test_staff_routes_refuse_participants_and_participant_routes_refuse_staff(
    app, client, make_participant, login_as
):
    participant = login_as(make_participant())
    staff = login_as(staff=("admin", "coordinator", "researcher"))
    checked = 0
    for method, rule, access in _routes(app):
        if "<" in rule or method not in ("GET", "DELETE"):
            continue
        if access.startswith("staff"):
            assert client.open(rule, method=method, headers=participant).status_code == 403, rule
            checked += 1
        elif access == "participant":
            assert client.open(rule, method=method, headers=staff).status_code == 403, rule
            checked += 1
    assert checked >= 3


# Every console page, and the API route whose roles it checks (None: a page of the console's own).
CONSOLE_MIRRORS = {
    "console.login": None,
    "console.login_start": None,
    "console.logout": "sessions.StaffMe",
    "console.logout_everywhere": "sessions.StaffMe",
    "console.overview": "sessions.StaffMe",
    "console.waves": "waves.Waves",
    "console.wave_new": "waves.Waves",
    "console.wave": "waves.OneWave",
    "console.wave_launch": "waves.Launch",
    "console.wave_close": "waves.Close",
    "console.wave_stats_csv": "waves.Stats",
    "console.questionnaires_list": "sessions.StaffMe",  # the catalogue API is open to any login
    "console.questionnaire_preview": "sessions.StaffMe",
    "console.questionnaire_diff": "sessions.StaffMe",
    "console.roster": "roster.Roster",
    "console.roster_dry_run": "roster.Roster",
    "console.roster_apply": "roster.Roster",
    "console.projects": "research.Projects",
    "console.project_create": "research_admin.ResearchProjects",
    "console.project": "research.Project",
    "console.project_add_member": "research_admin.ResearchProjects",
    "console.project_extract": "research.Extracts",
    "console.project_file": "research.ExtractFile",
    "console.project_codebook": "research.Project",
    # the catalogue's API is public, but these pages name the projects that received a variable
    "console.variables": "research.Projects",
    "console.variable": "research.Projects",
    "console.consent": "consent.ConsentSummary",
    "console.deletion_done": "withdrawal.DeletionRequestDone",
    "console.reminders": "waves.Waves",  # the outbox belongs to the waves
    "console.audit_log": "research_admin.ResearchProjects",  # no audit API: admins only, as this one
}
CONSOLE_PUBLIC = {"console.login", "console.login_start"}


def test_console_pages_name_their_roles_and_the_api_route_they_mirror(app):
    console = {rule.endpoint: access for _m, rule, access in _console_routes(app)}
    assert len(console) >= 5
    assert sorted(set(console) - set(CONSOLE_MIRRORS)) == []  # a new page names its API route here
    for endpoint, access in console.items():
        if endpoint in CONSOLE_PUBLIC:
            assert access.startswith("anyone"), endpoint
            continue
        assert access and access.startswith("staff:"), endpoint
        assert access == app.view_functions[CONSOLE_MIRRORS[endpoint]]._access, endpoint


def test_a_console_page_that_names_no_role_is_refused():
    import pytest

    from engagement.console.web import console_page

    with pytest.raises(ValueError, match="names the roles"):
        console_page()
    with pytest.raises(ValueError, match="unknown roles"):
        console_page("participant")


def _console_routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule, getattr(view, "_access", None)
