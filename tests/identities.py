"""Synthetic test identities only: Tenor-style fødselsnumre (month + 80) with valid check digits."""

from __future__ import annotations

import itertools
from datetime import date

from engagement.participants.person_number import check_digits

_counter = itertools.count(100)


def synthetic_fnr(birth: date, *, d_number: bool = False) -> str:
    """A synthetic (Tenor, month + 80) number for ``birth``, valid under mod-11; never a real person's."""
    while True:
        individual = next(_counter) % 500  # 000-499 also valid for 2000s births in the synthetic series
        day = birth.day + (40 if d_number else 0)
        base = f"{day:02d}{birth.month + 80:02d}{birth.year % 100:02d}{individual:03d}"
        checks = check_digits([int(c) for c in base])
        if checks is not None:
            return f"{base}{checks[0]}{checks[1]}"
