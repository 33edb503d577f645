"""What every fraud episode is made of: the context it draws from (the world, the legitimate
traffic, the seeded generator), fraudsters' identities, and the rows it writes.

The typologies (`history.card_fraud`, `history.account_fraud`) are built from these pieces;
`history.typologies` runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from history.population import (
    FRAUD_EMAIL_DOMAINS,
    MCCS,
    Floats,
    Ints,
    Population,
    merchants_of,
    random_ips,
)

Batch = dict[str, npt.NDArray[Any]]
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
DIGITAL_MCCS = ("5816", "5947")
RESALE_MCCS = ("5732", "5947", "4511", "7995")
# MCCs sold online at all (grocery and restaurants are mostly at the point of sale).
ONLINE_MCCS = tuple(m[0] for m in MCCS if m[3][0] + m[3][1] >= 0.5)
# Countries fraudsters connect from (indices into population.COUNTRIES: NG, TR, BR, MX).
FRAUD_COUNTRIES = np.array([18, 19, 11, 10])


@dataclass(frozen=True)
class Visits:
    """Who paid where in the legitimate traffic, by card and merchant number, sorted by time:
    what a breached merchant leaks."""

    ts_ms: npt.NDArray[np.int64]
    card: npt.NDArray[np.int64]
    merchant: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Fraudster:
    """Where a fraudster connects from; `country` is an index into the population's."""

    device: str
    ip: str
    country: int
    email: str


@dataclass
class EpisodeContext:
    population: Population
    rng: np.random.Generator
    legit: Batch
    visits: Visits
    start_ms: int
    days: int
    scenario: str
    pools: dict[tuple[str, ...], tuple[Ints, Floats]] = field(default_factory=dict)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.days * DAY_MS

    def popular(self, mccs: tuple[str, ...], size: int) -> Ints:
        """`size` merchants of these categories, busy ones more often: fraudsters shop where
        everyone does, so a merchant's fraud rate alone does not point at them."""
        if mccs not in self.pools:  # thousands of episodes ask for the same few pools
            pool = merchants_of(self.population, mccs)
            weight = self.population.merchant_weight[pool]
            self.pools[mccs] = (pool, weight / weight.sum())
        pool, p = self.pools[mccs]
        chosen: Ints = pool[self.rng.choice(len(pool), size=size, p=p)]
        return chosen

    def start(self, margin_days: float = 1.0) -> int:
        """A random instant at least `margin_days` before the end, when the history has room."""
        span = int((self.days - margin_days) * DAY_MS)
        return self.start_ms + int(self.rng.integers(0, max(span, 1)))

    def fraudster(self, home: int = -1, local: int = -1, proxy_share: float = 0.35) -> Fraudster:
        """A new device, and an IP in a fraud country (never `home`); with a `local` country,
        `proxy_share` of fraudsters hide behind a residential proxy in it."""
        p, rng = self.population, self.rng
        country = int(rng.choice(FRAUD_COUNTRIES[np.not_equal(FRAUD_COUNTRIES, home)]))
        if local >= 0 and rng.random() < proxy_share:
            country = local
        return Fraudster(
            device=f"dev_f{int(rng.integers(0, 1 << 40)):010x}",
            ip=str(random_ips(rng, p.country_octet[[country]])[0]),
            country=country,
            email=str(rng.choice(FRAUD_EMAIL_DOMAINS)),
        )

    def ips_in(self, country: int, n: int) -> npt.NDArray[np.object_]:
        """`n` addresses in `country`: a proxy pool, one exit per request."""
        return random_ips(self.rng, np.full(n, self.population.country_octet[country]))

    def empty(self) -> Batch:
        return {name: values[:0] for name, values in self.legit.items()}


def rows(ctx: EpisodeContext, ts_ms: Ints, **columns: Any) -> Batch:
    """Fraud rows at `ts_ms`: every column of the legit batch, scalars broadcast."""
    n = len(ts_ms)
    p = ctx.population
    merchant = np.broadcast_to(columns.pop("merchant"), n)
    delays = np.clip(ctx.rng.lognormal(np.log(10.0), 0.7, n), 1.0, 90.0) * DAY_MS
    out: Batch = {
        "ts_ms": ts_ms.astype(np.int64),
        "merchant_id": p.merchant_ids[merchant],
        "merchant_mcc": np.array([m[0] for m in MCCS], dtype=object)[p.merchant_mcc[merchant]],
        "merchant_country": p.country_codes[p.merchant_country[merchant]],
        "currency": p.country_currency[p.merchant_country[merchant]],
        "is_fraud": np.ones(n, dtype=np.int8),
        "label_ms": ts_ms.astype(np.int64) + delays.astype(np.int64),
        "fraud_scenario": np.full(n, ctx.scenario, dtype=object),
    }
    for name, value in columns.items():
        if isinstance(value, np.ndarray):
            out[name] = value
        else:
            out[name] = np.empty(n, dtype=object)
            out[name][:] = value
    missing = set(ctx.legit) - set(out)
    if missing:
        raise KeyError(f"fraud rows lack columns {sorted(missing)}")
    return {name: np.asarray(out[name], dtype=ctx.legit[name].dtype) for name in ctx.legit}


def joined(ctx: EpisodeContext, parts: list[Batch]) -> Batch:
    """One batch of several parts (one per card of an episode); empty without parts."""
    if not parts:
        return ctx.empty()
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def victim_card(ctx: EpisodeContext) -> tuple[int, int]:
    """A real customer's card: (card number, customer number)."""
    p = ctx.population
    customer = int(ctx.rng.integers(0, len(p.customer_ids)))
    return int(p.customer_cards[customer, 0]), customer


def card_columns(ctx: EpisodeContext, card: int) -> dict[str, Any]:
    p = ctx.population
    bin_index = p.card_bin[card]
    return {
        "card_id": p.card_ids[card],
        "card_bin": p.bin_codes[bin_index],
        "card_country": p.country_codes[p.bin_country[bin_index]],
    }


def card_country(ctx: EpisodeContext, card: int) -> int:
    p = ctx.population
    return int(p.bin_country[p.card_bin[card]])


def new_account(ctx: EpisodeContext, email: str) -> dict[str, Any]:
    return {
        "customer_id": f"cu_f{int(ctx.rng.integers(0, 1 << 40)):010x}",
        "customer_account_age_days": int(_account_ages(ctx, 1)[0]),
        "email_domain": email,
    }


def _account_ages(ctx: EpisodeContext, n: int) -> Ints:
    """Mostly guest checkouts and fresh sign-ups (as honest first-time shoppers), some aged
    accounts bought or farmed for the purpose."""
    rng = ctx.rng
    ages: Ints = np.where(rng.random(n) < 0.75, rng.integers(0, 30, n), rng.integers(30, 1500, n))
    return ages
