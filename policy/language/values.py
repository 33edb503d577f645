"""What a transaction's value is to a rule on the score path, and the lookup of no lists.

The row-wise back end (`rowwise`) reads attributes through these. A missing value is None: an
absent field, NaN (pandas' missing value), empty text, or a number that does not parse, which
is what `pandas.to_numeric(errors="coerce")` makes of it in the column-wise back end.
"""

from __future__ import annotations

from decimal import Decimal


def number(value: object) -> float | None:
    """An attribute read as a number (a Decimal amount mixes with float literals this way)."""
    if not isinstance(value, int | float | str | Decimal):
        return None
    try:
        result = float(value)
    except (ValueError, OverflowError):
        return None
    return result if result == result else None  # NaN != NaN


def text(value: object) -> str | None:
    """An attribute that is not a non-empty str: missing when None, NaN or empty."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    return str(value)


class _NoLists:
    def contains(self, list_name: str, value: str) -> bool:
        return False


NO_LISTS = _NoLists()
