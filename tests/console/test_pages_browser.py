"""The console's questionnaire, consent, roster, reminder, project and audit pages in a real browser,
signed in through the staff OpenID provider; axe-core checks every page visited."""

from __future__ import annotations

import re

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
