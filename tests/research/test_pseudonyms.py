from __future__ import annotations

import pytest

from engagement.research.pseudonyms import (
    PSEUDONYM_MAX,
    PSEUDONYM_MIN,
    PseudonymsExhausted,
    allocate_pseudonyms,
    is_pseudonym,
)


def test_pseudonyms_are_unique_and_in_range() -> None:
    drawn = allocate_pseudonyms(50_000)
    assert len(drawn) == len(set(drawn)) == 50_000
    assert all(PSEUDONYM_MIN <= p <= PSEUDONYM_MAX for p in drawn)


def test_range_fits_a_signed_32_bit_integer_and_a_stata_long() -> None:
    assert PSEUDONYM_MIN == 1_000_000
    assert PSEUDONYM_MAX < 2**31 - 1
    assert PSEUDONYM_MAX == 2_147_483_620
    assert not is_pseudonym(999_999)
    assert not is_pseudonym(2_147_483_621)


def test_new_pseudonyms_avoid_those_already_allocated_in_the_project() -> None:
    taken = set(allocate_pseudonyms(10_000))
    more = allocate_pseudonyms(10_000, taken)
    assert not taken & set(more)


def test_two_projects_get_unrelated_pseudonyms() -> None:
    first, second = allocate_pseudonyms(1_000), allocate_pseudonyms(1_000)
    assert len(set(first) & set(second)) < 5
    assert first != second


def test_pseudonyms_spread_over_the_whole_range() -> None:
    drawn = allocate_pseudonyms(20_000)
    middle = (PSEUDONYM_MIN + PSEUDONYM_MAX) // 2
    below = sum(p < middle for p in drawn)
    assert 9_000 < below < 11_000


def test_asking_for_more_than_the_range_holds_is_refused() -> None:
    with pytest.raises(PseudonymsExhausted):
        allocate_pseudonyms(PSEUDONYM_MAX - PSEUDONYM_MIN + 2)
    assert allocate_pseudonyms(0) == []
