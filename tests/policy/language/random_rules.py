"""Seeded random rule conditions and transactions for the back-end agreement tests.

`conditions(rng, n)` writes rule text from the language's grammar (every node kind, function,
operator, set and list); `transactions(rng, n)` draws attributes, features and scores with
the awkward values: missing (None, NaN, absent, empty text), upper and lower case, zeros.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from policy.language.fields import FIELDS, Origin

NUMBERS = [
    "amount_usd",
    "card_txn_count_1h",
    "card_amount_usd_sum_24h",
    "card_device_is_new_30d",
    "amount",
    "customer.account_age_days",
    "score",
]
TEXTS = [
    "card.country",
    "device.ip_country",
    "billing_country",
    "channel",
    "merchant.mcc",
    "customer.email_domain",
]
# (text, list): a field may only use a list of its own kind; lower(...) any list.
LISTED = [
    ("card.bin", "bins"),
    ("device.ip", "ips"),
    ("customer.email_domain", "domains"),
    ("lower(customer.email_domain)", "domains"),
    ("card.id", "cards"),
]
LISTS = """\
lists:
  bins: {kind: bin, entries: ["557684", "507726"]}
  ips: {kind: ip, entries: ["23.11.0.0/16", "2001:db8::1"]}
  domains: {kind: email_domain, entries: ["mailinator.com"]}
  cards: {kind: card_id}
"""
RUNTIME_ENTRIES = {"cards": ["c1"]}  # `cards` is filled at run time only
NUMBER_LITERALS = ["0", "1", "2", "3", "5.5", "100", "-1", "0.5", "1500"]
TEXT_LITERALS = ["US", "FR", "fr", "moto", "MOTO", "5967", "mailinator.com", "gmail.com"]
POOLS: dict[str, list[Any]] = {
    "card_country": ["US", "FR", "fr", "", None, math.nan],
    "ip_country": ["US", "FR", None, ""],
    "billing_country": ["US", "fr", None],
    "shipping_country": ["US", "GB", None],
    "channel": ["ecom", "moto", "MOTO", None],
    "merchant_mcc": ["5967", "7995", "5816", None],
    "email_domain": ["mailinator.com", "Mailinator.COM", "gmail.com", "", None],
    "card_bin": ["557684", "411111", None],
    "ip": ["23.11.4.5", "10.0.0.1", "2001:db8::1", None, ""],
    "card_id": ["c1", "c2", None],
    "amount": [0.0, 5.0, 10.5, 100.0, 2000.0, math.nan],
    "customer_account_age_days": [0.0, 1.0, 2.0, 30.0, math.nan],
}
FEATURE_VALUES = [0.0, 1.0, 2.0, 3.0, 5.5, 100.0, 1500.0, -1.0, math.nan]


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def number(self, depth: int) -> str:
        r = self.rng
        if depth <= 0 or r.random() < 0.4:
            return r.choice(NUMBERS) if r.random() < 0.7 else r.choice(NUMBER_LITERALS)
        a, b = self.number(depth - 1), self.number(depth - 1)
        shapes = [
            lambda: f"({a} {r.choice('+-*/%')} {b})",
            lambda: f"-({a})",
            lambda: f"+{a}",
            lambda: f"abs({a})",
            lambda: f"{r.choice(['min', 'max'])}({a}, {b})",
            lambda: f"max({a}, {b}, {self.number(depth - 1)})",
        ]
        return r.choice(shapes)()

    def text(self, depth: int) -> str:
        r = self.rng
        if depth > 0 and r.random() < 0.25:
            return f"lower({self.text(depth - 1)})"
        return r.choice(TEXTS) if r.random() < 0.75 else f'"{r.choice(TEXT_LITERALS)}"'

    def condition(self, depth: int) -> str:
        r = self.rng
        leaves: list[Callable[[], str]] = [
            lambda: (
                f"{self.number(depth)} {r.choice(['==', '!=', '<', '<=', '>', '>='])} "
                f"{self.number(depth)}"
            ),
            lambda: f"{self.number(depth)} < {self.number(depth)} <= {self.number(depth)}",
            lambda: f"{self.text(depth)} {r.choice(['==', '!='])} {self.text(depth)}",
            lambda: f"{self.text(depth)} {self._in()} {{{self._texts()}}}",
            lambda: f"{self.number(depth)} {self._in()} [{self._numbers()}]",
            self._listed,
            lambda: f"{r.choice(['missing', 'present'])}({self._any(depth)})",
            lambda: r.choice(["degraded", "true", "false", "True", "False"]),
        ]
        if depth <= 0 or r.random() < 0.45:
            return r.choice(leaves)()
        inner = [self.condition(depth - 1) for _ in range(r.randint(2, 3))]
        joins = [
            lambda: f" {r.choice(['and', 'or'])} ".join(f"({c})" for c in inner),
            lambda: f"not ({inner[0]})",
            lambda: f"({inner[0]}) {r.choice(['==', '!='])} ({inner[1]})",
        ]
        return r.choice(joins)()

    def _listed(self) -> str:
        text, name = self.rng.choice(LISTED)
        return f'{text} {self._in()} list("{name}")'

    def _any(self, depth: int) -> str:
        pick = self.rng.randrange(3)
        if pick == 0:
            return self.number(depth)
        return self.text(depth) if pick == 1 else self.condition(depth - 1)

    def _in(self) -> str:
        return self.rng.choice(["in", "not in"])

    def _texts(self) -> str:
        chosen = self.rng.sample(TEXT_LITERALS, self.rng.randint(1, 3))
        return ", ".join(f'"{t}"' for t in chosen)

    def _numbers(self) -> str:
        return ", ".join(self.rng.sample(NUMBER_LITERALS, self.rng.randint(1, 3)))


def conditions(rng: random.Random, count: int, depth: int = 3) -> list[str]:
    writer = _Writer(rng)
    return [writer.condition(depth) for _ in range(count)]


def features_used() -> list[str]:
    return [name for name in NUMBERS if FIELDS[name].origin is Origin.FEATURE]


def transactions(seed: int, rows: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Attributes (history columns), features and scores of `rows` random transactions."""
    rng = np.random.default_rng(seed)
    attributes = pd.DataFrame(
        {
            column: pd.Series(
                [pool[i] for i in rng.integers(0, len(pool), rows)],
                dtype=object if isinstance(pool[0], str) else np.float64,
            )
            for column, pool in POOLS.items()
        }
    )
    features = pd.DataFrame(
        {
            name: np.array(FEATURE_VALUES)[rng.integers(0, len(FEATURE_VALUES), rows)]
            for name in features_used()
        }
    )
    scores = rng.choice([0.0, 0.2, 0.5, 0.7, 1.0, math.nan], rows)
    return attributes, features, scores
