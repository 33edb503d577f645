"""Legitimate behaviour that looks like fraud: holiday sprees, in-app micro-purchases, trips
abroad and new phones. `history.simulator` mixes them into the legitimate traffic so that a
burst, a new device or a foreign IP alone does not give fraud away (docs/simulator.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from history.population import (
    COUNTRIES,
    Floats,
    Ints,
    Population,
    merchants_of,
    popular_merchants,
)

Bools = npt.NDArray[np.bool_]
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
SPREE_MCCS = ("5999", "5732", "5947")  # retail, electronics, gift cards
MICRO_MCCS = ("5816", "7995")  # digital goods, gambling: in-app purchases and top-ups
PRICE_POINTS_USD = np.array([0.99, 1.99, 2.99, 4.99, 9.99])
TRAVELLER_SHARE = 0.08  # of customers, one trip each of 2-12 days
PHONE_CHANGE_SHARE = 0.12  # of customers, who move to a new phone for good


@dataclass(frozen=True)
class Purchases:
    """Who paid where and when; `amount_usd` NaN means "by the customer's habit", `gift`
    marks purchases shipped to another country."""

    customer: Ints
    card: Ints
    merchant: Ints
    ts_ms: Ints
    amount_usd: Floats
    gift: Bools

    @staticmethod
    def join(parts: list[Purchases]) -> Purchases:
        columns = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(parts[0])
        }
        return Purchases(**columns)


@dataclass(frozen=True)
class Calendar:
    """Shopping days: weekends a little busier, a few peak days (sales, holidays) much busier."""

    start_ms: int
    day_weight: Floats
    peak_days: Ints

    def days(self, rng: np.random.Generator, n: int) -> Ints:
        p = self.day_weight / self.day_weight.sum()
        drawn: Ints = rng.choice(len(p), size=n, p=p)
        return drawn


def shopping_calendar(rng: np.random.Generator, start_ms: int, days: int) -> Calendar:
    weekday = (start_ms // DAY_MS + np.arange(days) + 3) % 7  # 0 = Monday (the epoch: Thursday)
    weight = np.where(weekday >= 5, 1.2, 1.0)
    peaks = rng.choice(days, size=max(1, days // 30), replace=False)
    weight[peaks] *= 1.8
    return Calendar(start_ms, weight, np.sort(peaks))


def _episode_rows(rng: np.random.Generator, rows: int, low: int, high: int) -> Ints:
    """Episode number of each of `rows` rows, episodes of `low` to `high - 1` rows each."""
    counts = rng.integers(low, high, max(1, rows // low + 1))
    episodes: Ints = np.repeat(np.arange(len(counts)), counts)[:rows]
    return episodes


def _shoppers(p: Population, rng: np.random.Generator, episodes: int) -> tuple[Ints, Ints]:
    """Busy customers more often, and the card each uses for the whole episode."""
    weight = p.customer_weight / p.customer_weight.sum()
    customer: Ints = rng.choice(len(p.customer_ids), size=episodes, p=weight)
    second = p.customer_cards[customer, 1]
    first = p.customer_cards[customer, 0]
    card: Ints = np.where((second >= 0) & (rng.random(episodes) < 0.4), second, first)
    return customer, card


def _episode_start(
    p: Population, rng: np.random.Generator, calendar: Calendar, customer: Ints, days: Ints
) -> Ints:
    """The episode's first instant: on `days`, around the customer's evening peak."""
    hour = (p.customer_hours[customer, 1] + rng.normal(0.0, 1.0, len(customer))) % 24
    start: Ints = calendar.start_ms + days * DAY_MS + (hour * HOUR_MS).astype(np.int64)
    return start


def holiday_sprees(
    p: Population, rng: np.random.Generator, rows: int, calendar: Calendar
) -> Purchases:
    """Customers buying presents: 3-8 purchases within 1-6 hours at retail, electronics and
    gift-card merchants, above their habit, mostly on peak days, a quarter shipped abroad."""
    episode = _episode_rows(rng, rows, 3, 9)
    count = int(episode.max()) + 1 if rows else 0
    customer, card = _shoppers(p, rng, count)
    on_peak = rng.random(count) < 0.6
    days = np.where(on_peak, rng.choice(calendar.peak_days, count), calendar.days(rng, count))
    start = _episode_start(p, rng, calendar, customer, days)
    span_ms = rng.integers(1, 7, count) * HOUR_MS
    ts = start[episode] + (rng.random(rows) * span_ms[episode]).astype(np.int64)
    merchant = popular_merchants(p, rng, merchants_of(p, SPREE_MCCS), rows)
    return Purchases(
        customer=customer[episode],
        card=card[episode],
        merchant=merchant,
        ts_ms=ts,
        amount_usd=np.full(rows, np.nan),
        gift=rng.random(rows) < 0.25,
    )


def micro_bursts(
    p: Population, rng: np.random.Generator, rows: int, calendar: Calendar
) -> Purchases:
    """Players topping up a game or buying in-app items: 3-11 small purchases at standard
    price points within 5-40 minutes at one digital merchant, as card testing does."""
    episode = _episode_rows(rng, rows, 3, 12)
    count = int(episode.max()) + 1 if rows else 0
    customer, card = _shoppers(p, rng, count)
    start = _episode_start(p, rng, calendar, customer, calendar.days(rng, count))
    span_ms = rng.integers(5, 41, count) * MINUTE_MS
    ts = start[episode] + (rng.random(rows) * span_ms[episode]).astype(np.int64)
    merchant = popular_merchants(p, rng, merchants_of(p, MICRO_MCCS), count)
    return Purchases(
        customer=customer[episode],
        card=card[episode],
        merchant=merchant[episode],
        ts_ms=ts,
        amount_usd=rng.choice(PRICE_POINTS_USD, rows),
        gift=np.zeros(rows, dtype=np.bool_),
    )


def travel_destinations(
    p: Population, rng: np.random.Generator, purchases: Purchases, calendar: Calendar
) -> Ints:
    """The country each purchase is made in when its customer is on a trip, else -1."""
    customers = len(p.customer_ids)
    weight = np.array([c[1] for c in COUNTRIES])
    destination = rng.choice(len(weight), size=customers, p=weight / weight.sum())
    home = p.customer_country
    destination = np.where(destination == home, (destination + 1) % len(weight), destination)
    travels = rng.random(customers) < TRAVELLER_SHARE
    leave_ms = calendar.start_ms + rng.integers(0, len(calendar.day_weight), customers) * DAY_MS
    back_ms = leave_ms + rng.integers(2, 13, customers) * DAY_MS
    c = purchases.customer
    away = travels[c] & (purchases.ts_ms >= leave_ms[c]) & (purchases.ts_ms < back_ms[c])
    where: Ints = np.where(away, destination[c], -1)
    return where


def merchants_abroad(p: Population, rng: np.random.Generator, merchant: Ints, where: Ints) -> Ints:
    """Three purchases in four made on a trip move to a merchant of the country visited
    (the rest stay with the customer's usual, often online, merchants)."""
    out = merchant.copy()
    moves = (where >= 0) & (rng.random(len(where)) < 0.75)
    for country in np.unique(where[moves]).tolist():
        pool = np.flatnonzero(p.merchant_country == country)
        rows = np.flatnonzero(moves & (where == country))
        if len(pool):
            out[rows] = popular_merchants(p, rng, pool, len(rows))
    return out


def new_phone_rows(
    p: Population, rng: np.random.Generator, purchases: Purchases, calendar: Calendar
) -> Bools:
    """Rows made after their customer moved to a new phone, which replaces the old one."""
    customers = len(p.customer_ids)
    changes = rng.random(customers) < PHONE_CHANGE_SHARE
    day_ms = calendar.start_ms + rng.integers(0, len(calendar.day_weight), customers) * DAY_MS
    c = purchases.customer
    moved: Bools = changes[c] & (purchases.ts_ms >= day_ms[c])
    return moved
