"""The console's blueprint and its pages (each page module adds its views to ``bp``)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from engagement.console import (
    audit,
    consent,
    login,
    overview,
    projects,
    questionnaires,
    reminders,
    roster,
    variables,
    waves,
    web,
)

blueprints: list[Any] = []  # HTML pages are not part of the OpenAPI document: registered by init_app
PAGES = (login, overview, waves, questionnaires, consent, roster, reminders, projects, variables, audit)


def init_app(app: Flask) -> None:
    web.init_app(app)
    app.register_blueprint(web.bp)
    # the staff callback hands a login that the console started back to it
    app.extensions.setdefault("engagement.browser_logins", {})["console"] = login.finish
