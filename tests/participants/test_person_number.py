"""The fødselsnummer validator: mod-11 both digits, D-numbers, the 2032 rule, synthetic only when allowed."""

from datetime import date

import pytest

from engagement.participants.person_number import check_digits
from engagement.participants.services import InvalidPersonNumber, parse_person_number
from tests.identities import synthetic_fnr


def _complete(nine: str, k1_remainder: int = 0) -> str | None:
    """Append check digits to nine digits; k1 chosen so the first sum leaves ``k1_remainder``."""
    checks = check_digits([int(c) for c in nine], k1_remainder)
    return None if checks is None else f"{nine}{checks[0]}{checks[1]}"


def _first_valid(prefix: str, k1_remainder: int = 0) -> str:
    for individual in range(1000):
        number = _complete(f"{prefix}{individual:03d}", k1_remainder)
        if number:
            return number
    raise AssertionError("no valid number")


def test_synthetic_number_is_accepted_when_allowed():
    parsed = parse_person_number(synthetic_fnr(date(2006, 5, 17)), allow_synthetic=True)
    assert (parsed.day, parsed.month, parsed.year2, parsed.is_synthetic) == (17, 5, 6, True)


def test_synthetic_number_is_refused_unless_allowed():
    with pytest.raises(InvalidPersonNumber, match="synthetic"):
        parse_person_number(synthetic_fnr(date(2006, 5, 17)), allow_synthetic=False)


def test_d_number_gives_its_birth_day():
    parsed = parse_person_number(synthetic_fnr(date(2006, 5, 17), d_number=True), allow_synthetic=True)
    assert parsed.is_d_number and parsed.day == 17


def test_ordinary_number_passes_without_synthetic():
    number = _first_valid("170506")
    assert parse_person_number(number, allow_synthetic=False).month == 5


@pytest.mark.parametrize("remainder", [1, 2, 3])
def test_2032_rule_accepts_first_check_digit_remainders_up_to_three(remainder):
    number = _first_valid("170586", remainder)
    assert parse_person_number(number, allow_synthetic=True).month == 5


def test_first_check_digit_remainder_four_is_refused():
    number = _first_valid("170586", 4)
    with pytest.raises(InvalidPersonNumber, match="first check digit"):
        parse_person_number(number, allow_synthetic=True)


def test_wrong_second_check_digit_is_refused():
    number = synthetic_fnr(date(2006, 5, 17))
    broken = number[:10] + str((int(number[10]) + 1) % 10)
    with pytest.raises(InvalidPersonNumber, match="check digit"):
        parse_person_number(broken, allow_synthetic=True)


@pytest.mark.parametrize("value", ["", "1234567890", "123456789012", "1705060000a", None])
def test_malformed_numbers_are_refused(value):
    with pytest.raises(InvalidPersonNumber, match="eleven digits"):
        parse_person_number(value, allow_synthetic=True)


def test_impossible_date_is_refused_and_the_number_is_not_in_the_message():
    number = _first_valid("310406")  # 31 April
    with pytest.raises(InvalidPersonNumber) as caught:
        parse_person_number(number, allow_synthetic=False)
    assert number not in str(caught.value)
