"""The console's message catalogue and its times."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engagement.console import i18n
from tests.conftest import ROOT

TEMPLATES = ROOT / "engagement" / "console" / "templates" / "console"


def test_every_message_is_in_both_languages():
    incomplete = [key for key, texts in i18n.MESSAGES.items() if set(texts) != set(i18n.LANGUAGES)]
    assert incomplete == []
    assert all(text.strip() for texts in i18n.MESSAGES.values() for text in texts.values())


def test_every_message_a_template_uses_is_in_the_catalogue():
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""_\(\s*["']([a-z0-9_.]*[a-z0-9])["']""", template.read_text()))
    assert len(used) > 10
    assert sorted(used - set(i18n.MESSAGES)) == []


def test_times_are_shown_in_oslo_with_the_zone_across_daylight_saving():
    assert i18n.oslo_time(datetime(2026, 12, 7, 13, 5, tzinfo=UTC)) == "2026-12-07 14:05 CET"
    assert i18n.oslo_time(datetime(2026, 7, 1, 13, 5, tzinfo=UTC)) == "2026-07-01 15:05 CEST"
    assert i18n.oslo_date(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "2027-01-01"
