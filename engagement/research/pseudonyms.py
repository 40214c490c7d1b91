"""Per-project pseudonyms: random integers from a cryptographic generator, unique within the project.

The range fits every reader MoBa researchers use: a signed 32-bit integer (phenotools' ``as.integer``)
that Stata's ``long`` holds as a number, not as one of its missing codes (those start at 2,147,483,621).
A pseudonym is drawn, not derived, so it says nothing about the person and nothing about the same
person's pseudonym in any other project. Storing the mapping is the caller's job.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection

from engagement.errors import DomainError

PSEUDONYM_MIN = 1_000_000
PSEUDONYM_MAX = 2_147_483_620  # Stata's largest long; 2**31 - 1 minus Stata's 27 missing codes
PSEUDONYM_SPACE = PSEUDONYM_MAX - PSEUDONYM_MIN + 1


class PseudonymsExhausted(DomainError):
    status, slug, title = 409, "pseudonyms-exhausted", "No more pseudonyms can be drawn for this project"


def is_pseudonym(value: int) -> bool:
    return PSEUDONYM_MIN <= value <= PSEUDONYM_MAX


def allocate_pseudonyms(count: int, taken: Collection[int] = ()) -> list[int]:
    """``count`` new pseudonyms, distinct from each other and from ``taken`` (the project's existing ones).

    Draws uniformly with ``secrets`` and rejects repeats; the order of the result is the draw order, so
    the caller may pair it with participants in any order it likes.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    taken_set = taken if isinstance(taken, set | frozenset) else set(taken)
    if count > PSEUDONYM_SPACE - len(taken_set):
        raise PseudonymsExhausted(
            f"{count} more pseudonyms requested; {len(taken_set)} of {PSEUDONYM_SPACE} are in use"
        )
    drawn: set[int] = set()
    result: list[int] = []
    while len(result) < count:
        value = PSEUDONYM_MIN + secrets.randbelow(PSEUDONYM_SPACE)
        if value in taken_set or value in drawn:
            continue
        drawn.add(value)
        result.append(value)
    return result
