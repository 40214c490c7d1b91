"""Per-project pseudonyms: random integers from a cryptographic generator, unique within the project.

The range fits every reader MoBa researchers use: a signed 32-bit integer (phenotools' ``as.integer``)
that Stata's ``long`` holds as a number, not as one of its missing codes (those start at 2,147,483,621).
A pseudonym is drawn, not derived, so it says nothing about the person and nothing about the same
person's pseudonym in any other project. Storing the mapping is the caller's job.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection

import numpy as np

from engagement.problems import DomainError

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
    # Uniform draws from the operating system's CSPRNG (``secrets``), 64 bits at a time, keeping only
    # those below the largest multiple of the range (so that the remainder is exactly uniform);
    # repeats and taken numbers are rejected, as one by one, but a batch at a time.
    limit = np.uint64((2**64 // PSEUDONYM_SPACE) * PSEUDONYM_SPACE)
    excluded = np.fromiter(taken_set, np.int64, len(taken_set))
    result = np.empty(0, np.int64)
    while len(result) < count:
        need = count - len(result)
        raw = np.frombuffer(secrets.token_bytes(8 * (need + need // 16 + 8)), np.uint64)
        values = (PSEUDONYM_MIN + raw[raw < limit] % np.uint64(PSEUDONYM_SPACE)).astype(np.int64)
        _, first = np.unique(values, return_index=True)
        values = values[np.sort(first)]  # the first draw of each number, in draw order
        values = values[~np.isin(values, excluded) & ~np.isin(values, result)]
        result = np.concatenate([result, values[:need]])
    return [int(v) for v in result]
