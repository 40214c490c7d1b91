"""Demo people for development: synthetic (Tenor, month + 80) numbers only, never a real person's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from engagement.participants.person_number import check_digits


def synthetic_number(birth: date, *, start: int = 0, d_number: bool = False) -> str:
    """The first valid synthetic number for ``birth`` at individual number ``start`` or above."""
    day = birth.day + (40 if d_number else 0)
    for individual in range(start, 1000):
        base = f"{day:02d}{birth.month + 80:02d}{birth.year % 100:02d}{individual:03d}"
        checks = check_digits([int(c) for c in base])
        if checks is not None:
            return f"{base}{checks[0]}{checks[1]}"
    raise ValueError("no synthetic number left for that date")


@dataclass(frozen=True)
class DemoPerson:
    """A person the stand-in can log in: ``login_hint`` picks them."""

    login_hint: str
    name: str
    pid: str | None
    birth_date: date | None
    locale: str = "nb"
    on_roster: bool = True
    acr: str | None = None  # overrides the level the stand-in reports
    note: str = ""


@dataclass(frozen=True)
class DemoStaff:
    login_hint: str
    name: str
    roles: tuple[str, ...] = field(default_factory=tuple)


def demo_persons(today: date) -> list[DemoPerson]:
    """The demo roster's people, one under 18 and one not on the roster."""
    minor = date(today.year - 17, 12, 31)
    people = [
        ("ola", "Ola Nordmann", date(2004, 5, 17), "nb", True, None, "adult on the roster"),
        ("kari", "Kari Nordmann", date(2001, 11, 3), "nn", True, None, "adult on the roster (nynorsk)"),
        ("emma", "Emma Hansen", minor, "en", True, None, "on the roster, under 18"),
        ("nils", "Nils Berg", date(2003, 2, 8), "nb", False, None, "not on the roster"),
        ("per", "Per Lav", date(2002, 9, 21), "nb", True, "idporten-loa-low", "logs in at a too low level"),
    ]
    return [
        DemoPerson(hint, name, synthetic_number(born, start=100 + i * 7), born, locale, on_roster, acr, note)
        for i, (hint, name, born, locale, on_roster, acr, note) in enumerate(people)
    ]


DEMO_STAFF = [
    DemoStaff("coordinator", "Cora Coordinator", ("coordinator",)),
    DemoStaff("researcher", "Rune Researcher", ("researcher",)),
    DemoStaff("admin", "Ada Admin", ("admin", "coordinator")),
]
