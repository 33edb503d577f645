"""Recognising card numbers (PANs), which riskscore never accepts in place of a card token."""

from __future__ import annotations


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def looks_like_card_number(value: str) -> bool:
    """True for 13 to 19 digits (spaces and dashes ignored) that pass the Luhn check."""
    digits = value.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and digits.isascii() and digits.isdigit() and luhn_valid(digits)
