"""Synthetic test identities only: Tenor-style fødselsnumre (month + 80) with valid check digits."""

from __future__ import annotations

import itertools
from datetime import date

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_counter = itertools.count(100)


def _check(digits: list[int], weights: tuple[int, ...]) -> int | None:
    k = 11 - sum(w * d for w, d in zip(weights, digits, strict=False)) % 11
    if k == 11:
        return 0
    return None if k == 10 else k


def synthetic_fnr(birth: date, *, d_number: bool = False) -> str:
    """A synthetic (Tenor, month + 80) number for ``birth``, valid under mod-11; never a real person's."""
    while True:
        individual = next(_counter) % 500  # 000-499 also valid for 2000s births in the synthetic series
        day = birth.day + (40 if d_number else 0)
        base = f"{day:02d}{birth.month + 80:02d}{birth.year % 100:02d}{individual:03d}"
        digits = [int(c) for c in base]
        k1 = _check(digits, _W1)
        if k1 is None:
            continue
        k2 = _check([*digits, k1], _W2)
        if k2 is None:
            continue
        return f"{base}{k1}{k2}"
