"""Conversion of an amount to US dollars, the one currency features and rules compare in.

The rate table is data, not code: `usd_rates.yaml` beside this module. Amounts become integer
US cents so that sums are exact both offline (numpy int64) and online (Redis integers).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml


class CurrencyError(ValueError):
    """An amount is in a currency the rate table does not know."""


@cache
def usd_rates() -> dict[str, float]:
    """US dollars per one major unit of each known ISO 4217 currency."""
    text = resources.files(__package__).joinpath("usd_rates.yaml").read_text()
    rates = yaml.safe_load(text)["usd_per_unit"]
    return {str(code): float(rate) for code, rate in rates.items()}


@cache
def minor_unit(currency: str) -> float:
    """The smallest amount of `currency` in major units: 0.01 for most, 1 for JPY (ISO 4217
    exponents in `usd_rates.yaml`; 2 when not listed)."""
    text = resources.files(__package__).joinpath("usd_rates.yaml").read_text()
    exponents = yaml.safe_load(text).get("minor_unit_exponents", {})
    return float(10 ** -int(exponents.get(currency, 2)))


def usd_cents(amount: float, currency: str) -> int:
    """`amount` (major units of `currency`) in whole US cents, rounded half to even."""
    try:
        rate = usd_rates()[currency]
    except KeyError:
        raise CurrencyError(
            f"unknown currency {currency!r}: expected one of {', '.join(sorted(usd_rates()))}"
        ) from None
    return round(amount * rate * 100)
