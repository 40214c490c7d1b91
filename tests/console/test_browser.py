"""The console in a real browser (Debian's chromium through Playwright), signed in through the staff
OpenID provider; axe-core checks every page visited."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engagement import clock
from engagement.clock import OSLO
from engagement.extensions import db
from engagement.questionnaires import services as questionnaires
from engagement.waves import services as waves
from tests.conftest import ROOT
from tests.console.conftest import check_accessibility, screenshot
from tests.console.helpers import http_sign_in, staff_of_hint

pytestmark = pytest.mark.committing


def _local(moment):
    return moment.astimezone(OSLO).strftime("%Y-%m-%dT%H:%M")


def test_coordinator_signs_in_through_the_staff_provider_and_sees_the_overview(page, sign_in, console_live):
    sign_in("coordinator")
    assert page.url == console_live.url + "/console"
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert "Cora Coordinator" in page.locator("header").inner_text()
    check_accessibility(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "engagement_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"


def test_coordinator_creates_previews_launches_and_closes_a_wave_and_sees_its_chart(
    page, sign_in, visit, console_live, make_participant
):
    for language in ("nb", "nb", "en"):
        make_participant(age=19, language=language)
    make_participant(age=17)  # under 18: never eligible
    with console_live.app.app_context():
        questionnaires.publish_all(ROOT / "questionnaires")
        db.session.commit()
    sign_in("coordinator")
    visit("/console/waves")
    assert "There are no waves yet" in page.inner_text("main")
    page.get_by_role("link", name="New wave").click()
    check_accessibility(page)

    now = clock.now()
    page.get_by_label("Name").fill("Spring 2027")
    page.get_by_label("Questionnaire (version)").select_option("ung18:1")
    page.get_by_label("Opens").fill(_local(now + timedelta(days=2)))
    page.get_by_label("Closes").fill(_local(now + timedelta(days=1)))  # before it opens
    page.get_by_label("Days after opening").fill("0, 3, x")
    page.get_by_role("button", name="Create the wave").click()
    # errors next to the fields they concern, and a summary that links to them
    assert page.locator("#offsets_days-error").inner_text().startswith("Enter whole days")
    assert page.get_by_label("Days after opening").get_attribute("aria-invalid") == "true"
    page.get_by_label("Days after opening").fill("0, 3")
    page.get_by_role("button", name="Create the wave").click()
    assert "must be after opens_at" in page.locator("#closes_at-error").inner_text()
    assert page.get_by_label("Name").input_value() == "Spring 2027"  # nothing typed is lost
    check_accessibility(page)

    page.get_by_label("Opens").fill(_local(now - timedelta(hours=1)))
    page.get_by_label("Closes").fill(_local(now + timedelta(days=30)))
    page.get_by_role("button", name="Create the wave").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Spring 2027")
    assert "3 participants are eligible now" in page.inner_text("main")
    schedule = page.locator("table", has=page.locator("caption", has_text="Reminder schedule"))
    assert schedule.locator("tbody tr").count() == 2
    assert "CET" in schedule.inner_text() or "CEST" in schedule.inner_text()
    check_accessibility(page)

    page.get_by_role("link", name="Launch the wave").click()
    assert "3 participants get a task" in page.inner_text("main")
    check_accessibility(page)
    page.get_by_role("button", name="Yes, launch the wave").click()
    assert "The wave has been launched." in page.inner_text("main")
    assert page.locator("svg.chart").first.is_visible()
    page.get_by_role("button", name="Show the table").first.click()
    daily = page.locator("#daily-chart-data table")
    assert daily.is_visible() and "3" in daily.locator("tbody tr").first.inner_text()
    check_accessibility(page)
    csv = page.context.request.get(page.url.split("?")[0] + "/stats.csv")
    assert csv.status == 200 and csv.text().startswith("date,tasks,reminded,opened,started,submitted")

    visit("/console")
    assert "Spring 2027" in page.inner_text("main")
    screenshot(page, "console-overview.png")

    page.go_back()
    page.get_by_role("link", name="Close the wave").click()
    check_accessibility(page)
    page.get_by_role("button", name="Yes, close the wave").click()
    assert "The wave has been closed." in page.inner_text("main")
    check_accessibility(page)


def test_the_charts_table_shows_without_javascript(chromium, console_live, make_participant):
    make_participant(age=20)
    with console_live.app.app_context():
        questionnaires.publish_all(ROOT / "questionnaires")
        wave = waves.create_wave(
            name="No script",
            questionnaire_key="ung18",
            questionnaire_version=1,
            eligibility={"kind": "age", "min_age": 18},
            opens_at=clock.now(),
            closes_at=clock.now() + timedelta(days=10),
        )
        waves.launch(wave.id, clock.now())
        db.session.commit()
        wave_id = wave.id
    signed_in = http_sign_in(console_live.url, "coordinator")
    context = chromium.new_context(java_script_enabled=False, locale="en-GB")
    context.add_cookies(
        [{"name": c.name, "value": c.value, "url": console_live.url + c.path} for c in signed_in.cookies]
    )
    page = context.new_page()
    page.goto(f"{console_live.url}/console/waves/{wave_id}")
    assert page.locator("svg.chart").first.is_visible()
    assert page.locator("#daily-chart-data table").is_visible()
    assert page.get_by_role("button", name="Show the table").count() == 0
    context.close()


def test_a_participant_cannot_open_the_console(chromium, console_live, make_participant, login_as):
    headers = login_as(make_participant())
    context = chromium.new_context(extra_http_headers=headers)
    page = context.new_page()
    response = page.goto(console_live.url + "/console")
    assert response.status == 403
    assert response.headers["content-type"] == "application/problem+json"
    context.close()


def test_a_post_without_the_csrf_token_is_refused(page, sign_in, console_live):
    sign_in("coordinator")
    page.locator("header form input[name=csrf_token]").evaluate("input => input.remove()")
    with page.expect_response(console_live.url + "/console/logout") as answer:
        page.get_by_role("button", name="Log out").click()
    assert answer.value.status == 400
    page.goto(console_live.url + "/console")
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"  # still signed in


def test_logout_ends_the_session(page, sign_in, console_live):
    sign_in("coordinator")
    page.get_by_role("button", name="Log out").click()
    assert "You have signed out." in page.inner_text("main")
    check_accessibility(page)
    page.goto(console_live.url + "/console")
    assert "/console/login" in page.url


def test_a_role_removed_stops_working_at_the_next_request(page, sign_in, visit, console_live):
    sign_in("admin")
    visit("/console/waves")
    with console_live.app.app_context():
        staff_of_hint(console_live, "admin").roles = ["researcher"]
        db.session.commit()
    response = page.goto(console_live.url + "/console/waves")
    assert response.status == 403
    with console_live.app.app_context():
        staff_of_hint(console_live, "admin").roles = []
        db.session.commit()
    page.goto(console_live.url + "/console")
    assert "/console/login" in page.url
