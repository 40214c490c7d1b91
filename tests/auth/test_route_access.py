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
        if rule.endpoint.startswith(IGNORED) or rule.rule.startswith("/dev/"):
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
