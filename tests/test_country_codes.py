"""One country-code parser for every input path: the API's arguments and inputs, catalogues."""

from __future__ import annotations

import pytest

from api.mutations.base import country_code
from core.country_codes import parse_alpha2
from core.errors import UserInputError


@pytest.mark.parametrize(("given", "parsed"), [("BD", "BD"), ("bd", "BD"), ("Id", "ID")])
def test_given_two_ascii_letters_when_parsed_then_upper_cased(given: str, parsed: str) -> None:
    assert parse_alpha2(given) == parsed


@pytest.mark.parametrize("given", ["", "B", "BGD", "B1", "  ", "ÄB", "ß", "ǅ", "\u0130D"])
def test_given_anything_else_when_parsed_then_none(given: str) -> None:
    assert parse_alpha2(given) is None


def test_given_a_letter_that_upper_cases_to_two_when_a_mutation_reads_it_then_invalid() -> None:
    # "ß".upper() is "SS": upper-casing before the check once let it through as a country.
    with pytest.raises(UserInputError) as refused:
        country_code("ß", "country")
    assert (refused.value.code, refused.value.field) == ("INVALID", "country")


def test_given_spaces_around_a_code_when_a_mutation_reads_it_then_trimmed() -> None:
    assert country_code(" bd ", "country") == "BD"
