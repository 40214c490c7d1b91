"""The console's questionnaire, consent, roster, reminder, project and audit pages in a real browser,
signed in through the staff OpenID provider; axe-core checks every page visited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engagement.extensions import db
from engagement.questionnaires import services as questionnaires
from tests.conftest import ROOT
from tests.console.conftest import check_accessibility
from tests.console.helpers import http_sign_in

pytestmark = pytest.mark.committing


@pytest.fixture
def published(app):
    with app.app_context():
        questionnaires.publish_all(ROOT / "questionnaires")
        db.session.commit()


def test_questionnaire_preview_turns_an_item_on_by_a_condition_and_checks_as_the_server(
    page, sign_in, visit, published
):
    sign_in("coordinator")
    visit("/console/questionnaires")
    expect(page.get_by_role("link", name="Preview ung18 v2")).to_be_visible()
    visit("/console/questionnaires/ung18/2?qlang=en")
    other = page.locator("#item-XA23_TEKST")
    expect(other).to_be_hidden()
    page.locator("#item-XA10").get_by_label("Other").check()
    expect(other).to_be_visible()
    check_accessibility(page)
    page.locator("#item-XA10").get_by_label("Other").uncheck()
    expect(other).to_be_hidden()

    page.locator("#item-XA32").get_by_label("Female").check()
    expect(page.locator("#item-XA33")).to_be_visible()
    page.get_by_label("How old were you when you had your first period? (years)").fill("25")
    page.get_by_role("button", name="Check as on submission").click()
    expect(page.locator("#check-summary")).to_be_visible()
    assert page.locator("#err-XA33").inner_text() == "must be between 8 and 19"
    assert page.locator("#err-XA24").inner_text() == "required"
    check_accessibility(page)

    visit("/console/questionnaires/ung18/2?qlang=nn")
    expect(page.locator("#item-XA10 legend")).to_contain_text("Kva gjer du til vanleg?")

    visit("/console/questionnaires/ung18/diff?from=1&to=2")
    expect(page.get_by_role("heading", level=1)).to_have_text("ung18: v1 against v2")
    assert page.locator("tr.breaks").count() >= 1


def test_questionnaire_preview_works_without_javascript(console_live, published):
    """Without JavaScript the form is sent and the page comes back with the items the server shows."""
    session = http_sign_in(console_live.url, "coordinator")
    base = console_live.url + "/console/questionnaires/ung18/2"
    before = session.get(base, params={"qlang": "en"}, timeout=10).text
    after = session.get(base, params={"qlang": "en", "XA10": "13", "check": "0"}, timeout=10).text
    assert re.search(r'id="item-XA23_TEKST"[^>]*hidden', before)
    assert not re.search(r'id="item-XA23_TEKST"[^>]*hidden', after)
    assert re.search(r'name="XA10" value="13" checked', after)
    state = session.get(base, params={"XA10": "13", "XA33": "25", "state": "1"}, timeout=10).json()
    assert "XA23_TEKST" in state["enabled"] and "XA33" not in state["enabled"]


def _csv(rows):
    lines = ["cohort_person_id,fodselsnummer,birth_date,language"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def test_roster_dry_run_shows_a_bad_line_masked_then_the_fixed_file_is_applied(page, sign_in, visit, app):
    from datetime import date

    import sqlalchemy as sa

    from engagement.participants.models import Participant
    from tests.identities import synthetic_fnr

    first, second = synthetic_fnr(date(2006, 3, 14)), synthetic_fnr(date(2005, 12, 1))
    sign_in("coordinator")
    visit("/console/roster")
    bad = _csv([("R1", first, "2006-03-14", "nb"), ("R2", second, "2005-12-02", "en")])
    page.set_input_files("#roster", files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": bad}])
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#roster-refused")).to_be_visible()
    expect(page.locator("#line-2")).to_contain_text("would create")
    expect(page.locator("#line-3")).to_contain_text("would refuse")
    expect(page.locator("#line-3")).to_contain_text("fodselsnummer: does not match birth_date")
    expect(page.locator("#line-2")).to_contain_text(first[:6] + "*****")
    assert first not in page.content() and second not in page.content()
    expect(page.get_by_role("button", name="Yes, import")).to_have_count(0)
    check_accessibility(page)

    fixed = _csv([("R1", first, "2006-03-14", "nb"), ("R2", second, "2005-12-01", "en")])
    page.set_input_files("#roster", files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": fixed}])
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#line-3")).to_contain_text("would create")
    check_accessibility(page)
    with app.app_context():
        count = (
            sa.select(sa.func.count())
            .select_from(Participant)
            .where(Participant.cohort_person_id.in_(["R1", "R2"]))
        )
        assert db.session.scalar(count) == 0  # a dry run changes nothing
    page.get_by_role("button", name="Yes, import").click()
    expect(page.locator("#roster-result")).to_contain_text("2 created, 0 updated, 0 unchanged")
    check_accessibility(page)
    with app.app_context():
        assert db.session.scalar(count) == 2


def _delivered_projects(app, make_participant, researcher_name):
    """Two projects, each with a delivery; the demo researcher is a member of the first only."""
    import uuid

    import sqlalchemy as sa

    from engagement.auth.models import StaffUser
    from engagement.dev.demo import ung18_answers
    from engagement.questionnaires import answers as qanswers
    from engagement.research import extraction, projects

    person = make_participant(age=19)
    with app.app_context():
        researcher = db.session.scalar(sa.select(StaffUser).where(StaffUser.name == researcher_name))
        version = questionnaires.get_version("ung18", 1)
        task = questionnaires.create_task(person.id, version)
        answers = ung18_answers(1)
        assert qanswers.validate_answers(questionnaires.definition_of(version), answers) == {}
        questionnaires.submit(person.id, task.id, uuid.uuid4(), answers)
        codes = []
        for code, members in (("PDB1001", [researcher.id]), ("PDB1002", [])):
            project = projects.create_project(
                code=code, title=f"Prosjekt {code}", approval_reference="REK 2026/12345",
                purposes=["participation"], questionnaires_=["ung18"], members=members,
                folder=None, data_use_codes=["DUO:0000007"],
            )  # fmt: skip
            extraction.run_extract(project, "full")
            codes.append(code)
        db.session.commit()
    return codes


def test_a_researcher_sees_only_their_project_and_downloads_a_file_matching_its_checksum(
    page, sign_in, visit, app, console_live, published, make_participant
):
    import hashlib

    sign_in("researcher")  # the first sign-in makes the staff user a project can name
    mine, other = _delivered_projects(app, make_participant, console_live.staff.people["researcher"].name)
    visit("/console/projects")
    expect(page.get_by_role("link", name=mine)).to_be_visible()
    expect(page.get_by_role("link", name=other)).to_have_count(0)
    visit(f"/console/projects/{other}", expect=403, axe=False)

    visit(f"/console/projects/{mine}")
    expect(page.locator("main")).to_contain_text("REK 2026/12345")
    expect(page.locator("main")).to_contain_text("Rune Researcher")
    link = page.locator("a[download]").filter(has_text=".csv").first
    name = link.inner_text()
    shown = page.locator(f'code[data-sha256="{name}"]').inner_text()
    with page.expect_download() as info:
        link.click()
    content = Path(info.value.path()).read_bytes()
    assert hashlib.sha256(content).hexdigest() == shown
    from engagement.research import downloads, projects

    with app.app_context():
        extract = downloads.list_extracts(projects.get_project(mine))[0]
        assert {f["path"]: f["sha256"] for f in extract.files}[name] == shown

    page.get_by_role("link", name="Codebook of").first.click()
    check_accessibility(page)
    total = page.get_by_role("status").inner_text()
    page.get_by_label("Search for a variable").fill("XA10")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status")).not_to_have_text(total)
    expect(page.locator("tbody tr").first).to_contain_text("XA10")
    check_accessibility(page)


def test_admin_pages_consent_queue_reminders_and_audit(page, sign_in, visit, app, make_participant):
    from engagement import clock
    from engagement.consent import ledger
    from engagement.withdrawal import services as withdrawal

    person = make_participant(age=20)
    with app.app_context():
        withdrawal.apply_withdrawal(
            db.session.merge(person),
            "delete_data",
            clock.now(),
            ledger.Evidence(),
            delete_childhood_data=True,
        )
        db.session.commit()
    sign_in("admin")
    visit("/console/consent")
    form = page.locator("form.confirm").filter(has_text=person.cohort_person_id)
    form.get_by_label("Reference").fill("SAK-2026-0042")
    form.get_by_role("button", name="Mark done").click()
    expect(page.locator(".field-error").first).to_contain_text("Tick the box to confirm first.")
    check_accessibility(page)
    form = page.locator("form.confirm").filter(has_text=person.cohort_person_id)
    expect(form.get_by_label("Reference")).to_have_value("SAK-2026-0042")
    form.get_by_label("The data is deleted in the cohort's files (cannot be undone).").check()
    form.get_by_role("button", name="Mark done").click()
    expect(page.get_by_role("status").first).to_contain_text("marked done")
    expect(page.locator("main")).to_contain_text("SAK-2026-0042")
    check_accessibility(page)

    visit("/console/reminders")
    visit("/console/audit")
    page.get_by_label("Action").select_option("withdrawal.deletion_done")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    check_accessibility(page)
    visit("/console/projects")
    visit("/console/questionnaires")


def test_a_coordinator_cannot_open_the_audit_log(page, sign_in, visit):
    sign_in("coordinator")
    visit("/console/audit", expect=403, axe=False)
    visit("/console/consent")
