"""The one card-number detector: what it finds (hidden by separators, scripts, prefixes) and
what it lets through (tokens, timestamps, long numbers), and masking."""

from __future__ import annotations

import pytest

from history.card_numbers import MASK, looks_like_card_number, luhn_valid, mask_card_numbers

PAN = "4111111111111111"


@pytest.mark.parametrize(
    "value",
    [
        PAN,
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
        "4111.1111.1111.1111",
        "4\u200b111\u200b1111\u200b1111\u200b1111",  # zero-width spaces
        "4111\u00ad1111\u20601111\ufeff1111",  # soft hyphen, word joiner, BOM
        "４１１１１１１１１１１１１１１１",  # fullwidth digits
        "\u0664" + "\u0661" * 15,  # Arabic-Indic digits
        "tok_4111111111111111",
        "card_4111111111111111",
        "user@4111111111111111.example.com",
        "4111 1111 1111 1111 123",  # a CVV after the number
        "x-4111_1111/1111-1111-y",
    ],
)
def test_looks_like_card_number_spots_pans_however_written(value: str) -> None:
    assert looks_like_card_number(value)


@pytest.mark.parametrize(
    "value",
    [
        "4111111111111112",
        "411111111111",
        "41111111111111111111",  # 20 digits without a separator: a long number
        "card_tok_8c1f",
        "2026-11-23T10:15:00+01:00",
        "203.0.113.7",
        "tx_1732350000000",
        "",
    ],
)
def test_looks_like_card_number_lets_tokens_through(value: str) -> None:
    assert not looks_like_card_number(value)


def test_mask_card_numbers_removes_every_pan_and_keeps_the_rest() -> None:
    text = f'{{"id": "tok_{PAN}", "other": "4111 1111 1111 1111", "ok": "card_tok_8c1f"}}'
    masked = mask_card_numbers(text)
    assert PAN not in masked and "4111 1111" not in masked
    assert masked.count(MASK) == 2 and "card_tok_8c1f" in masked and "tok_" in masked
    assert mask_card_numbers("４１１１１１１１１１１１１１１１ left") == f"{MASK} left"


def test_luhn_valid_matches_the_checksum_definition() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("value", "joined"),
    [
        ("lt-1b545992-000000018", "545992000000018"),
        ("order-20261201-000123451", "20261201000123451"),
        ("41111111-11111111", "4111111111111111"),
    ],
)
def test_groups_longer_than_a_written_card_number_are_not_joined(value: str, joined: str) -> None:
    assert luhn_valid(joined)  # joined, the digits would pass
    assert not looks_like_card_number(value)
