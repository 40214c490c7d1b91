"""The fødselsnummer's two mod-11 check digits: the one copy of the weights, to check a number (the
roster, the extracts' identity scan) and to complete nine digits into a valid synthetic one (demo data,
tests). Pure: no Flask, no database.

From 2032 the first check digit may leave a remainder of 0, 1, 2 or 3 (Skatteetaten's rule for numbers
issued from then on, to people of any age); the second must still leave 0.
"""

from __future__ import annotations

from collections.abc import Sequence

# The last weight of each applies to the check digit itself.
FIRST_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2, 1)
SECOND_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
FIRST_REMAINDERS = (0, 1, 2, 3)


def remainders(digits: Sequence[int]) -> tuple[int, int]:
    """The remainders (mod 11) of the first check over the first ten of eleven digits and of the
    second check over all eleven."""
    first = sum(w * d for w, d in zip(FIRST_WEIGHTS, digits[:10], strict=True)) % 11
    second = sum(w * d for w, d in zip(SECOND_WEIGHTS, digits, strict=True)) % 11
    return first, second


def passes_mod11(number: str) -> bool:
    """Whether ``number`` is eleven digits whose check digits are valid."""
    if len(number) != 11 or not number.isdigit():
        return False
    first, second = remainders([int(c) for c in number])
    return first in FIRST_REMAINDERS and second == 0


def check_digits(nine: Sequence[int], first_remainder: int = 0) -> tuple[int, int] | None:
    """The two check digits that complete ``nine`` digits, the first chosen so that its check leaves
    ``first_remainder``; ``None`` when either would have to be 10 (no number with these nine digits)."""
    first = (first_remainder - sum(w * d for w, d in zip(FIRST_WEIGHTS[:9], nine, strict=True))) % 11
    if first == 10:
        return None
    second = -sum(w * d for w, d in zip(SECOND_WEIGHTS[:10], [*nine, first], strict=True)) % 11
    if second == 10:
        return None
    return first, second
