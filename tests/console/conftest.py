"""The console's test harness: the real app served on a free port with a staff OpenID provider (the
development stand-in on its own port), Debian's chromium driven by Playwright, axe-core on every page.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium`` (``.ci/run`` installs the
Debian package when it is missing). Without it the browser tests are skipped, except under ``CI=true``,
where they fail. One browser per test module; each test gets a fresh context (its own cookies).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from engagement.dev.identities import DEMO_STAFF, DemoStaff
from engagement.dev.provider import StandInClient, StandInProvider
from tests.auth.live import Server, serve_provider

CHROMIUM = os.environ.get("ENGAGEMENT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A person the staff provider knows who holds no staff role (a participant, say).
NO_ROLE = DemoStaff("nobody", "Nora Noone", ())
SCREENSHOTS = os.environ.get("ENGAGEMENT_TEST_SCREENSHOTS")


@dataclass
class ConsoleLive:
    app: Flask
    url: str
    staff: StandInProvider
    visited: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def console_live(app: Flask) -> Iterator[ConsoleLive]:
    """The app on a free port, its staff provider on another; the app's config points at both."""
    backend = Server(app)
    staff = StandInProvider(
        kind="staff",
        people={s.login_hint: s for s in [*DEMO_STAFF, NO_ROLE]},
        clients={
            "backend-staff": StandInClient(
                "backend-staff", (f"{backend.url}/auth/staff/callback",), secret="s3cret-staff"
            )
        },
    )
    _idp_app, idp = serve_provider({"staff": staff})
    saved = dict(app.config)
    app.config.update(
        PUBLIC_URL=backend.url,
        STAFF_ISSUER=f"{idp.url}/staff",
        STAFF_CLIENT_ID="backend-staff",
        STAFF_CLIENT_SECRET="s3cret-staff",
    )
    app.extensions.pop("engagement.upstreams", None)
    yield ConsoleLive(app, backend.url, staff)
    app.config.clear()
    app.config.update(saved)
    app.extensions.pop("engagement.upstreams", None)
    backend.close()
    idp.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Debian chromium per test module (a second or two to start). Not per session:
    Playwright's synchronous API keeps an event loop running in the main thread while it is open,
    and later tests that call ``asyncio.run`` (the FCM sender's) would find it."""
    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, console_live: ConsoleLive) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; every page it loads must pass axe."""
    context = chromium.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def check_accessibility(page: Any) -> None:
    """axe-core (shipped by axe-playwright-python) on the page: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


@pytest.fixture
def visit(page: Any, console_live: ConsoleLive) -> Callable[..., Any]:
    """``visit("/console/waves")``: open a page of the app, check it with axe, return the response."""

    def go(path: str, *, expect: int = 200, axe: bool = True) -> Any:
        response = page.goto(console_live.url + path)
        assert response is not None
        assert response.status == expect, f"{path}: {response.status}"
        if axe and expect < 400:
            check_accessibility(page)
        console_live.visited.append(path)
        return response

    return go


@pytest.fixture
def sign_in(page: Any, console_live: ConsoleLive) -> Callable[[str], None]:
    """``sign_in("coordinator")``: sign in through the staff provider in the browser, as a person the
    provider knows (by login hint), and land on the overview."""

    def go(hint: str) -> None:
        person = console_live.staff.people[hint]
        page.goto(console_live.url + "/console")
        assert "/console/login" in page.url
        check_accessibility(page)
        page.get_by_role("link", name="Sign in with work account").click()
        page.get_by_role("link", name=person.name).click()
        page.wait_for_load_state()

    return go


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot when ``ENGAGEMENT_TEST_SCREENSHOTS`` names a folder (the README's picture)."""
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)
