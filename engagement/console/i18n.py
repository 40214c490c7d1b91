"""The console's two languages (Norwegian Bokmål and English) and its times in Europe/Oslo.

A small catalogue of our own rather than Flask-Babel: gettext catalogues must be compiled to ``.mo``
files (a build step ``make run`` would need, or binaries in git) for two languages and some hundred
strings, while a dictionary is read at import and checked by a test (every key in both languages, every
key a template uses is in it). The language is ``?lang=nb|en`` (remembered in a cookie), else the
cookie, else the best match of ``Accept-Language`` (Norwegian of any kind reads Bokmål).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Request

from engagement.console.pages_text import PAGE_MESSAGES

LANGUAGES = ("nb", "en")
DEFAULT = "nb"
COOKIE = "console_lang"
OSLO = ZoneInfo("Europe/Oslo")

MESSAGES: dict[str, dict[str, str]] = {
    "app.name": {"nb": "MoBa ung voksen · konsoll", "en": "MoBa young adult · console"},
    "skip": {"nb": "Hopp til innholdet", "en": "Skip to content"},
    "nav.label": {"nb": "Hovedmeny", "en": "Main menu"},
    "nav.overview": {"nb": "Oversikt", "en": "Overview"},
    "nav.waves": {"nb": "Bølger", "en": "Waves"},
    "nav.questionnaires": {"nb": "Spørreskjema", "en": "Questionnaires"},
    "nav.consent": {"nb": "Samtykke", "en": "Consent"},
    "nav.roster": {"nb": "Deltakerliste", "en": "Roster"},
    "nav.reminders": {"nb": "Påminnelser", "en": "Reminders"},
    "nav.projects": {"nb": "Prosjekter", "en": "Projects"},
    "nav.audit": {"nb": "Revisjonslogg", "en": "Audit log"},
    "lang.label": {"nb": "Språk", "en": "Language"},
    "lang.switch": {"nb": "English", "en": "Norsk (bokmål)"},
    "account.signed_in_as": {"nb": "Logget inn som", "en": "Signed in as"},
    "account.roles": {"nb": "Roller", "en": "Roles"},
    "account.logout": {"nb": "Logg ut", "en": "Log out"},
    "account.logout_everywhere": {
        "nb": "Avslutt alle mine økter",
        "en": "End all my sessions",
    },
    "login.title": {"nb": "Logg inn", "en": "Sign in"},
    "login.intro": {
        "nb": "Konsollet er for koordinatorer, forskere og administratorer i MoBa. "
        "Du logger inn med jobbkontoen din.",
        "en": "The console is for MoBa's coordinators, researchers and admins. "
        "You sign in with your work account.",
    },
    "login.button": {"nb": "Logg inn med jobbkonto", "en": "Sign in with work account"},
    "login.ended": {"nb": "Du er logget ut.", "en": "You have signed out."},
    "login.failed": {
        "nb": "Innloggingen ble ikke fullført ({reason}). Prøv igjen, eller kontakt en administrator.",
        "en": "The sign-in was not completed ({reason}). Try again, or ask an admin.",
    },
    "role.coordinator": {"nb": "koordinator", "en": "coordinator"},
    "role.researcher": {"nb": "forsker", "en": "researcher"},
    "role.admin": {"nb": "administrator", "en": "admin"},
    "overview.title": {"nb": "Oversikt", "en": "Overview"},
    "overview.researcher": {
        "nb": "Som forsker finner du prosjektene dine under Prosjekter.",
        "en": "As a researcher, you find your projects under Projects.",
    },
    "time.zone_note": {
        "nb": "Alle tider er norsk tid (Europe/Oslo).",
        "en": "All times are Norwegian time (Europe/Oslo).",
    },
    "table.empty": {"nb": "Ingen rader.", "en": "No rows."},
    "pager.label": {"nb": "Sider", "en": "Pages"},
    "pager.previous": {"nb": "Forrige", "en": "Previous"},
    "pager.next": {"nb": "Neste", "en": "Next"},
    "pager.position": {"nb": "Side {page} av {pages}", "en": "Page {page} of {pages}"},
    "sort.ascending": {"nb": "sortert stigende", "en": "sorted ascending"},
    "sort.descending": {"nb": "sortert synkende", "en": "sorted descending"},
}

MESSAGES.update(PAGE_MESSAGES)


def pick_language(request: Request) -> tuple[str, bool]:
    """The language of this request, and whether it was asked for with ``?lang`` (to remember it)."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    best = request.accept_languages.best_match(["nb", "no", "nn", "en"], default=DEFAULT)
    return ("en" if best == "en" else "nb"), False


def translate(language: str, key: str, **values: object) -> str:
    """The message ``key`` in ``language``; a missing key raises (the catalogue test finds them first)."""
    text = MESSAGES[key][language]
    return text.format(**values) if values else text


def oslo_time(value: datetime | None) -> str:
    """``2026-12-07 14:05 CET``: a moment in Europe/Oslo with its zone."""
    if value is None:
        return "—"
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M %Z")


def oslo_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(OSLO).date()
    return value.isoformat()
