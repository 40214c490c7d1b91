"""A live backend and a live OpenID provider (the development stand-in, served on its own port)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask

from engagement.dev.identities import DEMO_STAFF, DemoPerson
from engagement.dev.provider import StandInClient, StandInProvider
from tests.auth.live import Browser, Server, serve_provider
from tests.identities import synthetic_fnr

TODAY = date.today()


def _person(hint: str, born: date, **kw: Any) -> DemoPerson:
    return DemoPerson(hint, hint.title(), kw.pop("pid", synthetic_fnr(born)), born, **kw)


@dataclass
class Live:
    app: Flask
    url: str
    idp_url: str
    idporten: StandInProvider
    staff: StandInProvider
    people: dict[str, DemoPerson]

    def browser(self, **kw: Any) -> Browser:
        return Browser(self.url, **kw)

    @property
    def idporten_issuer(self) -> str:
        return f"{self.idp_url}/idporten"


@pytest.fixture(scope="module")
def live_servers(app: Flask) -> Iterator[Live]:
    backend = Server(app)
    adult = date(TODAY.year - 20, 3, 14)
    people = {
        "ola": _person("ola", adult),
        "minor": _person("minor", date(TODAY.year - 17, 12, 31)),
        "stranger": _person("stranger", adult, on_roster=False),
        "low": _person("low", adult, acr="idporten-loa-low"),
        "eidas": _person("eidas", adult, pid=None),
    }
    idporten = StandInProvider(
        kind="idporten",
        people=dict(people),
        clients={
            "backend": StandInClient(
                "backend", (f"{backend.url}/auth/idporten/callback",), secret="s3cret-idporten"
            )
        },
    )
    staff = StandInProvider(
        kind="staff",
        people={s.login_hint: s for s in DEMO_STAFF},
        clients={
            "backend-staff": StandInClient(
                "backend-staff", (f"{backend.url}/auth/staff/callback",), secret="s3cret-staff"
            )
        },
    )
    _idp_app, idp = serve_provider({"idporten": idporten, "staff": staff})
    saved = dict(app.config)
    app.config.update(
        PUBLIC_URL=backend.url,
        IDPORTEN_ISSUER=f"{idp.url}/idporten",
        IDPORTEN_CLIENT_ID="backend",
        IDPORTEN_CLIENT_SECRET="s3cret-idporten",
        STAFF_ISSUER=f"{idp.url}/staff",
        STAFF_CLIENT_ID="backend-staff",
        STAFF_CLIENT_SECRET="s3cret-staff",
    )
    app.extensions.pop("engagement.upstreams", None)
    yield Live(app, backend.url, idp.url, idporten, staff, people)
    app.config.clear()
    app.config.update(saved)
    app.extensions.pop("engagement.upstreams", None)
    backend.close()
    idp.close()


@pytest.fixture
def live(live_servers: Live, make_participant: Any) -> Live:
    """The live pair, with ola, minor, low and eidas' numbers on the roster (stranger is not)."""
    for hint, person in live_servers.people.items():
        if person.on_roster and person.pid:
            make_participant(birth_date=person.birth_date, pid=person.pid, cohort_person_id=f"R-{hint}")
    live_servers.idporten.id_token_overrides.clear()
    live_servers.idporten._codes.clear()
    return live_servers
