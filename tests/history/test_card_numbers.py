from __future__ import annotations

import pytest

from history.card_numbers import looks_like_card_number, luhn_valid


@pytest.mark.parametrize(
    "value",
    ["4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
)
def test_looks_like_card_number_spots_valid_pans(value: str) -> None:
    assert looks_like_card_number(value)


@pytest.mark.parametrize(
    "value",
    ["4111111111111112", "411111111111", "41111111111111111111", "card_4111111111111111", ""],
)
def test_looks_like_card_number_lets_tokens_through(value: str) -> None:
    assert not looks_like_card_number(value)


def test_luhn_valid_matches_the_checksum_definition() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
