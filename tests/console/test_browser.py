"""The console in a real browser (Debian's chromium through Playwright), signed in through the staff
OpenID provider; axe-core checks every page visited."""

from __future__ import annotations

import pytest

from tests.console.conftest import check_accessibility

pytestmark = pytest.mark.committing


def test_coordinator_signs_in_through_the_staff_provider_and_sees_the_overview(page, sign_in, console_live):
    sign_in("coordinator")
    assert page.url == console_live.url + "/console"
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert "Cora Coordinator" in page.locator("header").inner_text()
    check_accessibility(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "engagement_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
