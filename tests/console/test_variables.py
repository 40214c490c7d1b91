"""``/console/variables``: the catalogue's search and variable pages in the console, with the research
projects whose deliveries held each variable; over HTTP and in a real browser (axe on every page)."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engagement.auth.models import StaffUser
from engagement.dev.demo import ung18_answers
from engagement.extensions import db
from engagement.questionnaires import services as questionnaires
from engagement.research import extraction, projects
from tests.conftest import ROOT
from tests.console.helpers import http_sign_in

pytestmark = pytest.mark.committing


def _delivered(app, make_participant, researcher_name: str) -> tuple[str, str, str]:
    """ung18 published and answered in version 1; PDB2001 (the researcher's) and PDB2002 received it,
    PDB2003 has no delivery."""
    person = make_participant(age=19)
    with app.app_context():
        questionnaires.publish_all(ROOT / "questionnaires")
        researcher = db.session.scalar(sa.select(StaffUser).where(StaffUser.name == researcher_name))
        version = questionnaires.get_version("ung18", 1)
        task = questionnaires.create_task(person.id, version)
        questionnaires.submit(person.id, task.id, uuid.uuid4(), ung18_answers(1))
        db.session.commit()  # on PostgreSQL an extract reads the responses through a connection of its own
        codes = ("PDB2001", "PDB2002", "PDB2003")
        for code, members in zip(codes, ([researcher.id], [], []), strict=True):
            project = projects.create_project(
                code=code, title=f"Prosjekt {code}", approval_reference="REK 2026/54321",
                purposes=["participation"], questionnaires_=["ung18"], members=members,
                folder=None, data_use_codes=["DUO:0000007"],
            )  # fmt: skip
            if code != "PDB2003":
                extraction.run_extract(project, "full")
        db.session.commit()
    return codes


def _rows(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/console/variables/(\w+)\?', html)


def test_search_filters_pages_and_a_variable_page_over_http(console_live, make_participant):
    base = console_live.url
    researcher = http_sign_in(base, "researcher")  # the staff user a project can name
    mine, other, undelivered = _delivered(
        console_live.app, make_participant, console_live.staff.people["researcher"].name
    )
    coordinator = http_sign_in(base, "coordinator")

    everything = coordinator.get(f"{base}/console/variables", timeout=10)
    assert everything.status_code == 200
    total = int(re.search(r"(\d+) variab", everything.text).group(1))
    assert total > 25 and len(_rows(everything.text)) == 25  # paged on the server
    second = coordinator.get(f"{base}/console/variables", params={"page": 2}, timeout=10)
    assert _rows(second.text) and not set(_rows(second.text)) & set(_rows(everything.text))

    for words in ("XA83", "bruker e-sigarett", "brukar e-sigarett", "do you use e-cigarettes", "vape"):
        found = coordinator.get(f"{base}/console/variables", params={"q": words}, timeout=10)
        assert found.status_code == 200
        assert "XA77" in _rows(found.text), words
    only_v2 = coordinator.get(
        f"{base}/console/variables", params={"version": 2, "type": "likert"}, timeout=10
    )
    public = coordinator.get(
        f"{base}/catalog/variables", params={"version": 2, "type": "likert", "page_size": 25}, timeout=10
    ).json()
    assert _rows(only_v2.text) == [item["name"] for item in public["items"]]  # the catalogue's own search
    assert 0 < public["total"] < total and f"{public['total']} variab" in only_v2.text
    nothing = coordinator.get(f"{base}/console/variables", params={"q": "no such words at all"}, timeout=10)
    assert _rows(nothing.text) == [] and "0 variab" in nothing.text

    refused = coordinator.get(f"{base}/console/variables", params={"version": "two"}, timeout=10)
    assert refused.status_code == 422
    assert re.search(r'<p class="field-error" id="version-error">[^<]+</p>', refused.text)
    assert 'aria-invalid="true"' in refused.text

    page = coordinator.get(f"{base}/console/variables/XA83", timeout=10)
    assert page.status_code == 200
    assert "Variabel XA77" in page.text or "Variable XA77" in page.text
    assert "UNG18_B" in page.text and "XA83" in page.text
    for code in (mine, other):
        assert f'href="/console/projects/{code}"' in page.text
    assert undelivered not in page.text

    own = researcher.get(f"{base}/console/variables/XA77", timeout=10)
    assert own.status_code == 200
    assert f'href="/console/projects/{mine}"' in own.text
    assert other not in own.text  # a researcher sees only their own projects

    unknown = coordinator.get(f"{base}/console/variables/NO_SUCH_VARIABLE", timeout=10)
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"].startswith("application/problem+json")


def test_a_participant_cannot_open_the_variable_pages(console_live, make_participant, login_as):
    import requests

    token = login_as(make_participant())
    for path in ("/console/variables", "/console/variables/XA77"):
        response = requests.get(console_live.url + path, headers=token, timeout=10, allow_redirects=False)
        assert response.status_code == 403, path


def test_a_coordinator_searches_in_nb_and_en_and_sees_a_renamed_variables_lineage_and_receivers(
    page, sign_in, visit, app, console_live, make_participant
):
    sign_in("researcher")
    page.context.clear_cookies()
    mine, other, undelivered = _delivered(app, make_participant, console_live.staff.people["researcher"].name)
    sign_in("coordinator")

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Variables").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Variables")
    visit("/console/variables?lang=nb")
    page.get_by_label("Navn eller ord").fill("bruker e-sigarett")
    page.get_by_role("button", name="Søk").click()
    expect(page.get_by_role("status")).to_contain_text("variabler funnet")
    expect(page.get_by_role("link", name="XA77", exact=True)).to_be_visible()

    visit("/console/variables?lang=en")
    page.get_by_label("Name or words").fill("do you use e-cigarettes")
    page.get_by_label("Version", exact=True).select_option("2")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).to_contain_text("variables found")
    from tests.console.conftest import check_accessibility

    check_accessibility(page)
    row = page.locator("tbody tr").filter(has=page.get_by_role("link", name="XA77", exact=True))
    expect(row).to_contain_text("also XA83")
    row.get_by_role("link", name="XA77", exact=True).click()
    check_accessibility(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Variable XA77")
    lineage = page.get_by_role("table", name="Its name in each version")
    expect(lineage.locator("tbody tr")).to_have_count(2)
    expect(lineage.locator("tbody tr").nth(1)).to_contain_text("UNG18_B")
    expect(lineage.locator("tbody tr").nth(1)).to_contain_text("XA83")
    expect(lineage.locator("tbody tr").nth(1)).to_contain_text("same as (renamed)")
    received = page.get_by_role("table", name="Projects whose deliveries held answers")
    expect(received.get_by_role("link", name=mine)).to_be_visible()
    expect(received.get_by_role("link", name=other)).to_be_visible()
    expect(received).not_to_contain_text(undelivered)
    expect(page.locator("main")).to_contain_text("Do you use e-cigarettes or vapes?")
    expect(page.locator("main")).to_contain_text("Brukar du e-sigarett eller vape?")
