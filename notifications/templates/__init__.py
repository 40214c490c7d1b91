"""Reminder texts per locale (``nb``, ``nn``, ``en``, one TOML file each) and the renderer that picks one.

Texts are rendered on the server at send time in the participant's language, falling back to Bokmål.
A template is addressed by a dotted id (``reminder.first``); a text may hold ``$name`` placeholders
(:class:`string.Template`), filled from the keyword arguments of :func:`render`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any

LOCALES = ("nb", "nn", "en")
FALLBACK_LOCALE = "nb"
# what devices and browsers send for the two written standards of Norwegian and for English
_ALIASES = {"no": "nb", "nob": "nb", "nno": "nn", "eng": "en"}


class UnknownTemplate(KeyError):
    """No locale, not even the fallback, has a template with this id."""


@dataclass(frozen=True)
class RenderedText:
    template: str
    locale: str
    version: int
    title: str
    body: str


def choose_locale(preferred: str | None) -> str:
    """The supported locale for a language tag (``nn-NO``, ``nb_NO``, ``no``, ``en-GB``); else Bokmål."""
    if not preferred:
        return FALLBACK_LOCALE
    language = preferred.strip().replace("_", "-").split("-")[0].lower()
    language = _ALIASES.get(language, language)
    return language if language in LOCALES else FALLBACK_LOCALE


@cache
def texts(locale: str) -> dict[str, Any]:
    """The parsed template file of one supported locale."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    with resources.files(__name__).joinpath(f"{locale}.toml").open("rb") as fh:
        return tomllib.load(fh)


def template_ids(locale: str) -> set[str]:
    """Every template id a locale defines."""
    data = texts(locale)
    return {f"{group}.{name}" for group, table in data.items() if isinstance(table, dict) for name in table}


def render(template: str, locale: str | None, **values: str) -> RenderedText:
    """The template's title and body in the participant's language, falling back to Bokmål.

    Raises :class:`UnknownTemplate` if no locale defines the id, ``KeyError`` if a placeholder has no value.
    """
    chosen = choose_locale(locale)
    for candidate in dict.fromkeys((chosen, FALLBACK_LOCALE)):
        entry = _lookup(texts(candidate), template)
        if entry is not None:
            return RenderedText(
                template=template,
                locale=candidate,
                version=int(texts(candidate)["version"]),
                title=Template(entry["title"]).substitute(values),
                body=Template(entry["body"]).substitute(values),
            )
    raise UnknownTemplate(template)


def reminder_template(sequence: int, planned: int) -> str:
    """Which reminder text the ``sequence``-th of ``planned`` reminders uses (both 1-based)."""
    if sequence <= 1:
        return "reminder.first"
    return "reminder.last" if sequence >= planned else "reminder.again"


def _lookup(data: dict[str, Any], template: str) -> dict[str, str] | None:
    node: Any = data
    for part in template.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, dict) and "title" in node and "body" in node else None
