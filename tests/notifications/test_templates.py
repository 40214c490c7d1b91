"""Reminder texts: every locale complete, neutral on a lock screen, chosen by the participant's language."""

from __future__ import annotations

import re

import pytest

import notifications.templates as templates
from notifications.templates import LOCALES, UnknownTemplate, choose_locale, reminder_template, render

# Words that would tell a bystander reading a lock screen something about the participant.
HEALTH_WORDS = re.compile(
    r"(?i)helse|health|sjuk|syk|sick|ill\b|disease|sykdom|sjukdom|mental|psyk|depres|angst|anxiety|"
    r"gravid|pregnan|medisin|medic|diagnos|symptom|alkohol|alcohol|rus|drug|lege|doctor|kropp|body\b|vekt|weight"
)


def test_every_locale_defines_the_same_templates():
    ids = {locale: templates.template_ids(locale) for locale in LOCALES}
    assert ids["nb"] == ids["nn"] == ids["en"]
    assert {"reminder.first", "reminder.again", "reminder.last"} <= ids["nb"]


@pytest.mark.parametrize("locale", LOCALES)
def test_lock_screen_texts_name_no_health_topic_and_stay_short(locale):
    for template in templates.template_ids(locale):
        text = render(template, locale)
        assert not HEALTH_WORDS.search(text.title + " " + text.body), (locale, template)
        assert len(text.body) <= 110  # fits a collapsed notification on common phones


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("nn_NO", "nn"),
        ("NN", "nn"),
        ("en-GB", "en"),
        ("de-DE", "nb"),
        (None, "nb"),
    ],
)
def test_language_tags_choose_a_supported_locale_else_bokmal(tag, locale):
    assert choose_locale(tag) == locale
    assert render("reminder.first", tag).locale == locale


def test_each_locale_has_its_own_wording():
    bodies = {render("reminder.first", locale).body for locale in LOCALES}
    assert len(bodies) == 3


def test_a_template_missing_in_a_locale_falls_back_to_bokmal(monkeypatch):
    files = {
        "nb": {"version": 2, "extra": {"note": {"title": "MoBa", "body": "Hei $name"}}},
        "en": {"version": 5},
    }
    monkeypatch.setattr(templates, "texts", files.__getitem__)
    text = render("extra.note", "en", name="Kari")
    assert (text.locale, text.version, text.body) == ("nb", 2, "Hei Kari")


def test_unknown_template_is_an_error():
    with pytest.raises(UnknownTemplate):
        render("reminder.nonexistent", "nb")


@pytest.mark.parametrize(
    ("sequence", "planned", "template"),
    [(1, 4, "reminder.first"), (2, 4, "reminder.again"), (4, 4, "reminder.last"), (1, 1, "reminder.first")],
)
def test_reminder_template_by_position(sequence, planned, template):
    assert reminder_template(sequence, planned) == template
