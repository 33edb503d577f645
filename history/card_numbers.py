"""Recognising card numbers (PANs), which riskscore never accepts, stores, logs or echoes.

One detector serves every place a value enters or leaves: request bodies, paths and headers at
the HTTP edge, list entries, history files, log lines and problem details (masking).

A card number is a run of 13 to 19 digits that passes the Luhn check. Before looking, the
detector reads through what hides one from a plain digit match: separators between digits
(spaces, dots, dashes, underscores, slashes, zero-width and other invisible characters) and
digits of any script (fullwidth `４１１１`, Arabic-Indic, ...). A run may sit inside a longer
value (`tok_4111111111111111`, `card:4111-1111-1111-1111/x`). Inside one run, every stretch
between separators (or the run's ends) is tried, so a PAN followed by a CVV is still found.
A stretch of several groups counts only when its groups are at most 6 digits long, as card
numbers are written (4-4-4-4, 4-6-5, digit by digit); a run of more than 19 digits with no
separator inside is a long number, not a card number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

MIN_DIGITS, MAX_DIGITS = 13, 19
# Groups longer than this are not how a card number is written: ids that join a date and a
# counter (`order-20261201-000123456`) would otherwise be refused one time in ten.
MAX_GROUP_DIGITS = 6
MASK = "[card number removed]"

# Visible separators, then the invisible characters of Unicode's category Cf (soft hyphen,
# zero-width space and joiners, direction marks, word joiner, BOM, tags): they are how a PAN
# slips past a plain digit match.
_SEPARATORS = (
    r"\s._/\-\u00b7\u2010-\u2015\u2024\u2027\u2212\u30fb\ufe58\ufe63\uff0d\uff0e\uff3f"
    r"\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    r"\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    r"\U000e0020-\U000e007f"
)
# Runs of at least 13 digits and separators that start with a digit (the fastest shape for
# Python's re, measured); plain ASCII values, nearly all of them, get the small class.
_RUN = re.compile(rf"\d[\d{_SEPARATORS}]{{{MIN_DIGITS - 1},}}")
_ASCII_RUN = re.compile(rf"[0-9][0-9\s._/\-]{{{MIN_DIGITS - 1},}}")
# Plain ASCII values with fewer than 13 digits are let through without a regex.
_NOT_DIGITS = bytes(code for code in range(128) if not chr(code).isdigit())
_SPLIT = re.compile(rf"[{_SEPARATORS}]+")
_TRAILING = re.compile(rf"[{_SEPARATORS}]+$")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a string of ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def looks_like_card_number(value: str) -> bool:
    """True when `value` holds a card number anywhere (see the module docstring)."""
    if len(value) < MIN_DIGITS:
        return False
    if value.isascii() and len(value.encode().translate(None, _NOT_DIGITS)) < MIN_DIGITS:
        return False
    return any(True for _ in _card_runs(value))


def mask_card_numbers(text: str) -> str:
    """`text` with every card number in it replaced by `MASK` (for logs and messages)."""
    if len(text) < MIN_DIGITS:
        return text
    return (_ASCII_RUN if text.isascii() else _RUN).sub(_mask_run, text)


def mask_card_numbers_in(value: Any) -> Any:
    """`value` (strings, lists, dicts as JSON holds them) with every string masked; numbers
    are left alone, since a float's digits are not a card number."""
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, dict):
        return {key: mask_card_numbers_in(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_card_numbers_in(item) for item in value]
    return value


def _card_runs(value: str) -> Iterator[str]:
    for match in (_ASCII_RUN if value.isascii() else _RUN).finditer(value):
        if _holds_card_number(match.group()):
            yield match.group()


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    if not _holds_card_number(run):
        return run
    trailing = _TRAILING.search(run)  # a run may end in separators that are not the PAN's
    return MASK + (trailing.group() if trailing else "")


def _holds_card_number(run: str) -> bool:
    """Whether a run of digits and separators holds 13-19 Luhn-valid digits between two of
    its boundaries (its ends or a separator): one unbroken group, or groups of at most
    `MAX_GROUP_DIGITS` as card numbers are written (4-4-4-4, 4-6-5, digit by digit)."""
    groups = [group for group in _SPLIT.split(run) if group]
    digits = "".join(groups)
    if not digits.isascii():
        digits = "".join(str(unicodedata.digit(char)) for char in digits)
    start = 0
    for first, group in enumerate(groups):
        end = start
        for index in range(first, len(groups)):
            if index > first and max(len(group), len(groups[index])) > MAX_GROUP_DIGITS:
                break  # `20261201-000123456`: a date and a counter, not a written PAN
            end += len(groups[index])
            if end - start > MAX_DIGITS:
                break
            if end - start >= MIN_DIGITS and luhn_valid(digits[start:end]):
                return True
        start += len(group)
    return False
