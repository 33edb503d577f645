"""`riskscore simulate`: a realistic, seeded synthetic transaction history.

population (`history.population`) -> legitimate traffic -> fraud episodes
(`history.typologies`) -> one frame in the raw history schema, sorted by time. Every random
draw comes from one `numpy.random.Generator`, so a seed gives the same history every time.
Scenarios are described in docs/simulator.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from history.currency import usd_rates
from history.lookalikes import (
    Bools,
    Calendar,
    Purchases,
    holiday_sprees,
    merchants_abroad,
    micro_bursts,
    new_phone_rows,
    shopping_calendar,
    travel_destinations,
)
from history.population import (
    CHANNELS,
    MCCS,
    Ints,
    Population,
    build_population,
    habit_amounts,
    random_ips,
)
from history.schema import COLUMNS
from history.typologies import Batch, Visits, fraud_batches

Progress = Callable[[int], object]
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# Digital goods often skip the billing address.
DIGITAL_MCC_INDICES = [i for i, m in enumerate(MCCS) if m[0] in ("5816", "5947", "7995")]
# Shares of the legitimate rows that are holiday sprees and in-app micro-purchase bursts.
SPREE_SHARE = 0.03
MICRO_SHARE = 0.015


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; `customers` and `merchants` default to counts derived from the
    volume (about one purchase per customer every other day)."""

    transactions: int = 100_000
    days: int = 60
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    seed: int = 7
    customers: int | None = None
    merchants: int | None = None
    fraud_rate: float = 0.01

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.days * DAY_MS

    def check(self) -> None:
        """Refuse a config `simulate` cannot honour with a ValueError naming the field.

        Called by `simulate` rather than on construction: the CLI builds the config from its
        arguments and reports this error where it runs the simulation.
        """
        derived = "need >= 1, or None to derive it from the volume"
        rules = (
            ("transactions", self.transactions >= 100, "need >= 100 transactions"),
            ("days", self.days >= 2, "need >= 2 days"),
            ("fraud_rate", 0 <= self.fraud_rate < 0.5, "need a fraud rate in [0, 0.5)"),
            ("customers", self.customers is None or self.customers >= 1, derived),
            ("merchants", self.merchants is None or self.merchants >= 1, derived),
        )
        for field, honoured, need in rules:
            if not honoured:
                raise ValueError(f"SimulationConfig.{field} = {getattr(self, field)!r}: {need}")


def simulate(config: SimulationConfig, progress: Progress | None = None) -> pd.DataFrame:
    """A history of about `config.transactions` rows with every schema column, plus
    `fraud_scenario` ("none" or the typology), sorted by time. Fraud comes in whole episodes,
    so the count is within 1 % from about 20 000 rows, and within 200 rows below that.

        frame = simulate(SimulationConfig(transactions=200_000, days=90, seed=7))

    `progress(n)` hears the rows written so far in a few increments summing to about
    `config.transactions`. A config it cannot honour raises ValueError (`SimulationConfig.check`).
    """
    config.check()
    step = progress or (lambda _n: None)
    rng = np.random.default_rng(config.seed)
    customers = config.customers or max(200, int(config.transactions / (config.days * 0.5)))
    merchants = config.merchants or max(40, customers // 40)
    population = build_population(rng, customers, merchants)
    fraud_rows = int(config.transactions * config.fraud_rate)
    legit = legitimate_batch(population, rng, config.transactions - fraud_rows, config)
    step(len(legit[0]["ts_ms"]))
    window = (config.start_ms, config.end_ms)
    fraud = fraud_batches(population, rng, legit, fraud_rows, window, step)
    return _frame([legit[0], *fraud])


def legitimate_batch(
    population: Population, rng: np.random.Generator, n: int, config: SimulationConfig
) -> tuple[Batch, Visits]:
    """Customers shopping by their own habits, mostly at their regular merchants, with the
    honest look-alikes of fraud mixed in (`history.lookalikes`); amounts in US dollars
    (`_frame` converts them to the transaction's currency)."""
    p = population
    calendar = shopping_calendar(rng, config.start_ms, config.days)
    sprees, micro = int(n * SPREE_SHARE), int(n * MICRO_SHARE)
    purchases = Purchases.join(
        [
            _shopping_trips(p, rng, n - sprees - micro, config, calendar),
            holiday_sprees(p, rng, sprees, calendar),
            micro_bursts(p, rng, micro, calendar),
        ]
    )
    customer, card = purchases.customer, purchases.card
    where = travel_destinations(p, rng, purchases, calendar)
    merchant = merchants_abroad(p, rng, purchases.merchant, where)
    ts_ms = np.minimum(purchases.ts_ms, config.end_ms - 1)
    day = (ts_ms - config.start_ms) // DAY_MS
    mcc = p.merchant_mcc[merchant]
    habit = habit_amounts(p, rng, customer, merchant)
    amount = np.where(np.isnan(purchases.amount_usd), habit, purchases.amount_usd)
    channel = _channels(rng, mcc)
    online = channel <= 1
    home = p.customer_country[customer]
    gift = purchases.gift | (rng.random(n) < 0.04)  # shipped to someone abroad
    shipping = np.where(gift, rng.integers(0, len(p.country_codes), n), home)
    new_phone = new_phone_rows(p, rng, purchases, calendar)
    batch: Batch = {
        "ts_ms": ts_ms,
        "amount": np.maximum(np.round(amount, 2), 0.5),
        "currency": np.where(
            rng.random(n) < 0.85, p.country_currency[p.merchant_country[merchant]], "USD"
        ),
        "card_id": p.card_ids[card],
        "card_bin": p.bin_codes[p.card_bin[card]],
        "card_country": p.country_codes[p.bin_country[p.card_bin[card]]],
        **_online_identity(p, rng, customer, day, online, (where, new_phone)),
        "email_domain": _present_where(rng.random(n) < 0.9, p.customer_email[customer]),
        "merchant_id": p.merchant_ids[merchant],
        "merchant_mcc": np.array([m[0] for m in MCCS], dtype=object)[mcc],
        "merchant_country": p.country_codes[p.merchant_country[merchant]],
        "channel": np.array(CHANNELS, dtype=object)[channel],
        "billing_country": _present_where(
            ~np.isin(mcc, DIGITAL_MCC_INDICES) | (rng.random(n) < 0.7), p.country_codes[home]
        ),
        "shipping_country": _present_where(online | (channel == 3), p.country_codes[shipping]),
        "is_fraud": np.zeros(n, dtype=np.int8),
        "label_ms": np.full(n, -1, dtype=np.int64),
        "fraud_scenario": np.full(n, "none", dtype=object),
    }
    order = np.argsort(ts_ms, kind="stable")
    return batch, Visits(ts_ms[order], card[order], merchant[order])


def _shopping_trips(
    p: Population, rng: np.random.Generator, n: int, config: SimulationConfig, calendar: Calendar
) -> Purchases:
    """Everyday purchases: busy customers more often, at their regular merchants mostly,
    around one of their two favourite hours, on busier days more often."""
    customer = rng.choice(
        len(p.customer_ids), size=n, p=p.customer_weight / p.customer_weight.sum()
    )
    second = p.customer_cards[customer, 1]
    card = np.where((second >= 0) & (rng.random(n) < 0.4), second, p.customer_cards[customer, 0])
    merchant = np.where(
        rng.random(n) < 0.8,
        p.customer_regulars[customer, rng.integers(0, 6, n)],
        rng.choice(len(p.merchant_ids), size=n, p=p.merchant_weight),
    )
    evening = (rng.random(n) < p.customer_evening_share[customer]).astype(np.int64)
    hour = (p.customer_hours[customer, evening] + rng.normal(0.0, 1.5, n)) % 24
    day = calendar.days(rng, n)
    ts_ms = config.start_ms + day * DAY_MS + (hour * HOUR_MS).astype(np.int64)
    # Shopping sessions: a share of purchases follow the customer's previous one within minutes
    # (a second basket, a ride home), as in real traffic.
    follow = np.flatnonzero(rng.random(n) < 0.15)
    follow = follow[follow > 0]
    customer[follow], card[follow], merchant[follow] = (
        customer[follow - 1],
        card[follow - 1],
        np.where(rng.random(len(follow)) < 0.5, merchant[follow - 1], merchant[follow]),
    )
    later = ts_ms[follow - 1] + rng.integers(1, 40, len(follow)) * 60_000
    ts_ms[follow] = np.minimum(later, config.end_ms - 1)
    return Purchases(customer, card, merchant, ts_ms, np.full(n, np.nan), np.zeros(n, np.bool_))


def _online_identity(
    p: Population,
    rng: np.random.Generator,
    customer: Ints,
    day: Ints,
    online: Bools,
    moves: tuple[Ints, Bools],
) -> Batch:
    """Customer account, device and IP of each purchase; device and IP only online. `moves`:
    the country visited on a trip (-1 at home) and whether the customer has a new phone."""
    n = len(customer)
    home = p.customer_country[customer]
    trip, new_phone = moves
    # Honest noise that looks like fraud besides trips and new phones: VPNs and one-off
    # devices (a friend's laptop, a work computer); guest checkouts and first-time shoppers,
    # an unknown account on an unknown device, often from abroad.
    abroad = online & ((trip >= 0) | (rng.random(n) < 0.01))
    guest = online & (rng.random(n) < 0.20)
    abroad |= guest & (rng.random(n) < 0.3)
    where = np.where(
        trip >= 0, trip, np.where(abroad, rng.integers(0, len(p.country_codes), n), home)
    )
    ip = np.where(
        (rng.random(n) < 0.85) & ~abroad,
        p.customer_ip[customer],
        random_ips(rng, p.country_octet[where]),
    )
    which = np.where(rng.random(n) < 0.15, 1, np.where(new_phone, 2, 0))
    device_ids = p.device_ids[p.customer_devices[customer, which]]
    one_off = online & (rng.random(n) < 0.03)
    device_ids[one_off] = [f"dev_n{i:09x}" for i in np.flatnonzero(one_off).tolist()]
    # Most guests check out on a device of their own, the others on one never seen before.
    guest_rows = np.flatnonzero(guest).tolist()
    unknown = guest & (rng.random(n) < 0.4)
    device_ids[unknown] = [f"dev_g{i:09x}" for i in np.flatnonzero(unknown).tolist()]
    customer_ids = p.customer_ids[customer].copy()
    customer_ids[guest] = [f"cu_g{i:09x}" for i in guest_rows]
    return {
        "customer_id": customer_ids,
        "customer_account_age_days": np.where(
            guest, rng.integers(0, 30, n), p.customer_age_days[customer] + day
        ),
        "device_id": _present_where(online, device_ids),
        "ip": _present_where(online, ip),
        "ip_country": _present_where(online, p.country_codes[where]),
    }


def _present_where(keep: Bools, values: npt.NDArray[Any]) -> npt.NDArray[np.object_]:
    """`values` where `keep`, None (missing) elsewhere."""
    out = np.full(len(values), None, dtype=object)
    out[keep] = values[keep]
    return out


def _channels(rng: np.random.Generator, mcc: Ints) -> Ints:
    """A channel number per transaction, drawn from its merchant category's channel mix."""
    cumulative = np.cumsum(np.array([m[3] for m in MCCS]), axis=1)
    draws = rng.random(len(mcc))
    channel: Ints = (draws[:, None] > cumulative[mcc]).sum(axis=1).clip(0, 3)
    return channel


def _frame(batches: list[Batch]) -> pd.DataFrame:
    """One frame in schema order, sorted by time; amounts from US dollars to their currency."""
    columns = {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}
    order = np.argsort(columns["ts_ms"], kind="stable")
    data = {name: values[order] for name, values in columns.items()}
    rates = pd.Series(data["currency"], dtype=object).map(usd_rates()).to_numpy(np.float64)
    amount = np.maximum(np.round(data.pop("amount") / rates, 2), 0.01)
    frame = pd.DataFrame(
        {
            "transaction_id": pd.Series([f"tx_{i:09d}" for i in range(len(order))], dtype=object),
            "timestamp": _utc(data.pop("ts_ms")),
            "amount": amount,
            "customer_account_age_days": pd.array(data.pop("customer_account_age_days"), "Int64"),
            "is_fraud": data.pop("is_fraud").astype(np.int8),
            "label_timestamp": _utc(data.pop("label_ms")),
            **{name: pd.Series(values, dtype=object) for name, values in data.items()},
        }
    )
    return frame[[c.name for c in COLUMNS] + ["fraud_scenario"]]


def _utc(ms: Ints) -> pd.Series:
    """Epoch milliseconds as UTC timestamps (ns); negative means unknown (NaT)."""
    stamps = ms.astype("datetime64[ms]").astype("datetime64[ns]")
    stamps[ms < 0] = np.datetime64("NaT")
    return pd.Series(stamps).dt.tz_localize("UTC")
