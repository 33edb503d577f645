"""Fraud typologies of the simulator, each a scenario a payments team would recognise.

Each scenario function returns the rows of one episode; `fraud_batches` runs episodes until
each scenario has its share of the fraud budget. A scenario that does not fit in the history
returns an empty episode and leaves its share to the next one. docs/simulator.md describes each
scenario and the signals it leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from history.population import FRAUD_EMAIL_DOMAINS, MCCS, Population, random_ips

Batch = dict[str, npt.NDArray[Any]]
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

# Share of the fraud rows each scenario gets.
SCENARIOS: dict[str, float] = {
    "card_testing": 0.20,
    "stolen_card": 0.30,
    "account_takeover": 0.20,
    "compromised_merchant": 0.15,
    "bin_attack": 0.15,
}
DIGITAL_MCCS = ("5816", "5947")
RESALE_MCCS = ("5732", "5947", "4511", "7995")
# Countries fraudsters connect from (indices into population.COUNTRIES: NG, TR, BR, MX).
FRAUD_COUNTRIES = np.array([18, 19, 11, 10])
# A merchant breach lasts a week; its cards are defrauded 2-19 days after it ends (the bounds
# of `Generator.integers`, the upper one excluded).
BREACH_DAYS = 7
BREACH_TO_FRAUD_DAYS = (2, 20)


@dataclass(frozen=True)
class Visits:
    """Who paid where in the legitimate traffic, by card and merchant number, sorted by time:
    what a breached merchant leaks."""

    ts_ms: npt.NDArray[np.int64]
    card: npt.NDArray[np.int64]
    merchant: npt.NDArray[np.int64]


@dataclass
class _Context:
    population: Population
    rng: np.random.Generator
    legit: Batch
    visits: Visits
    start_ms: int
    days: int
    scenario: str

    def merchants_of(self, mccs: tuple[str, ...]) -> npt.NDArray[np.int64]:
        codes = np.array([m[0] for m in MCCS], dtype=object)[self.population.merchant_mcc]
        found = np.flatnonzero(np.isin(codes, mccs))
        return found if len(found) else np.arange(len(codes))

    def start(self, margin_days: float = 1.0) -> int:
        span = int((self.days - margin_days) * DAY_MS)
        return self.start_ms + int(self.rng.integers(0, max(span, 1)))

    def fraudster(self, home: int = -1, local: int = -1) -> tuple[str, str, str, str]:
        """A fraudster's device, IP, IP country (never `home`) and e-mail domain. With a
        `local` country, a third of fraudsters hide behind a proxy in it."""
        p, rng = self.population, self.rng
        country = int(rng.choice(FRAUD_COUNTRIES[np.not_equal(FRAUD_COUNTRIES, home)]))
        if local >= 0 and rng.random() < 0.35:
            country = local
        ip = random_ips(rng, p.country_octet[[country]])[0]
        device = f"dev_f{int(rng.integers(0, 1 << 40)):010x}"
        return device, ip, p.country_codes[country], str(rng.choice(FRAUD_EMAIL_DOMAINS))


def _rows(ctx: _Context, ts_ms: npt.NDArray[np.int64], **columns: Any) -> Batch:
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


def _victim_card(ctx: _Context) -> tuple[int, int]:
    """A real customer's card: (card number, customer number)."""
    p = ctx.population
    customer = int(ctx.rng.integers(0, len(p.customer_ids)))
    return int(p.customer_cards[customer, 0]), customer


def _card_columns(ctx: _Context, card: int) -> dict[str, Any]:
    p = ctx.population
    bin_index = p.card_bin[card]
    return {
        "card_id": p.card_ids[card],
        "card_bin": p.bin_codes[bin_index],
        "card_country": p.country_codes[p.bin_country[bin_index]],
    }


def _new_account(ctx: _Context, email: str) -> dict[str, Any]:
    return {
        "customer_id": f"cu_f{int(ctx.rng.integers(0, 1 << 40)):010x}",
        "customer_account_age_days": int(ctx.rng.integers(0, 45)),
        "email_domain": email,
    }


def card_testing(ctx: _Context) -> Batch:
    """A stolen card checked with a burst of small attempts within minutes."""
    rng = ctx.rng
    card, _ = _victim_card(ctx)
    attempts = int(rng.integers(5, 31))
    ts = ctx.start() + np.sort(rng.integers(0, 12 * MINUTE_MS, attempts))
    merchants = ctx.merchants_of(DIGITAL_MCCS)
    device, ip, ip_country, email = ctx.fraudster()
    return _rows(
        ctx,
        ts,
        merchant=rng.choice(merchants, size=attempts)
        if rng.random() < 0.3
        else rng.choice(merchants),
        amount=np.round(rng.uniform(0.5, 5.0, attempts), 2),
        channel="ecom",
        device_id=device,
        ip=ip,
        ip_country=ip_country,
        billing_country=None,
        shipping_country=None,
        **_card_columns(ctx, card),
        **_new_account(ctx, email),
    )


def stolen_card(ctx: _Context) -> Batch:
    """A stolen card spent at many merchants over hours, on goods easy to resell."""
    rng = ctx.rng
    card, _ = _victim_card(ctx)
    count = int(rng.integers(3, 13))
    ts = ctx.start(3) + np.sort(rng.integers(0, int(rng.integers(1, 49)) * HOUR_MS, count))
    return _spend(ctx, card, ts, median_usd=250.0)


def _spend(ctx: _Context, card: int, ts: npt.NDArray[np.int64], median_usd: float) -> Batch:
    """A fraudster's online purchases with a stolen card: resale goods, a fresh account, an IP
    abroad or behind a proxy in the card's country, often shipped to the fraudster."""
    rng, p = ctx.rng, ctx.population
    card_country = int(p.bin_country[p.card_bin[card]])
    device, ip, ip_country, email = ctx.fraudster(local=card_country)
    count = len(ts)
    return _rows(
        ctx,
        ts,
        merchant=rng.choice(ctx.merchants_of(RESALE_MCCS), size=count),
        amount=np.round(rng.lognormal(np.log(median_usd), 0.6, count), 2),
        channel="ecom",
        device_id=device,
        ip=ip,
        ip_country=ip_country,
        billing_country=p.country_codes[card_country],
        shipping_country=ip_country if rng.random() < 0.6 else None,
        **_card_columns(ctx, card),
        **_new_account(ctx, email),
    )


def account_takeover(ctx: _Context) -> Batch:
    """A real customer's account used from a new device abroad, shipping elsewhere, big amounts."""
    rng, p = ctx.rng, ctx.population
    card, customer = _victim_card(ctx)
    count = int(rng.integers(1, 5))
    ts = ctx.start(1) + np.sort(rng.integers(0, 6 * HOUR_MS, count))
    device, ip, ip_country, _ = ctx.fraudster(home=int(p.customer_country[customer]))
    start_day = (ts[0] - ctx.start_ms) // DAY_MS
    return _rows(
        ctx,
        ts,
        merchant=rng.choice(ctx.merchants_of(RESALE_MCCS), size=count),
        amount=np.round(rng.lognormal(np.log(600.0), 0.5, count), 2),
        channel=str(rng.choice(["ecom", "app"])),
        device_id=device,
        ip=ip,
        ip_country=ip_country,
        billing_country=p.country_codes[p.customer_country[customer]],
        shipping_country=ip_country,
        customer_id=p.customer_ids[customer],
        customer_account_age_days=int(p.customer_age_days[customer] + start_day),
        email_domain=p.customer_email[customer],
        **_card_columns(ctx, card),
    )


def compromised_merchant(ctx: _Context) -> Batch:
    """Card data stolen at one merchant during a breach; those cards are defrauded elsewhere
    days later. Only the later transactions are fraud; the visits to the merchant are not.
    Empty in a history too short for the breach and the wait after it: all would be past the end.
    """
    rng, visits = ctx.rng, ctx.visits
    if ctx.days <= BREACH_DAYS + BREACH_TO_FRAUD_DAYS[0]:
        return {name: values[:0] for name, values in ctx.legit.items()}
    breach_start = ctx.start(14)
    breach_end = breach_start + BREACH_DAYS * DAY_MS
    lo, hi = np.searchsorted(visits.ts_ms, [breach_start, breach_end])
    if hi - lo == 0:
        return stolen_card(ctx)
    # A busy merchant is more likely breached: pick the merchant of a random visit.
    breached = visits.merchant[int(rng.integers(lo, hi))]
    cards = np.unique(visits.card[lo:hi][visits.merchant[lo:hi] == breached])
    victims = rng.choice(cards, size=min(len(cards), int(rng.integers(3, 12))), replace=False)
    parts = []
    for card in victims.tolist():
        count = int(rng.integers(1, 4))
        start = breach_end + int(rng.integers(*BREACH_TO_FRAUD_DAYS)) * DAY_MS
        ts = start + np.sort(rng.integers(0, 12 * HOUR_MS, count))
        parts.append(_spend(ctx, card, ts, median_usd=180.0))
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def bin_attack(ctx: _Context) -> Batch:
    """Card numbers enumerated within one BIN, tried in minutes from one device and IP."""
    rng, p = ctx.rng, ctx.population
    bin_index = int(rng.integers(0, len(p.bin_codes)))
    count = int(rng.integers(20, 101))
    ts = ctx.start() + np.sort(rng.integers(0, int(rng.integers(10, 61)) * MINUTE_MS, count))
    device, ip, ip_country, email = ctx.fraudster()
    first = int(rng.integers(0, 1 << 36))
    return _rows(
        ctx,
        ts,
        merchant=rng.choice(ctx.merchants_of(DIGITAL_MCCS)),
        amount=np.round(rng.uniform(1.0, 10.0, count), 2),
        channel="ecom",
        device_id=device,
        ip=ip,
        ip_country=ip_country,
        billing_country=None,
        shipping_country=None,
        card_id=np.array([f"card_b{first + i:010x}" for i in range(count)], dtype=object),
        card_bin=p.bin_codes[bin_index],
        card_country=p.country_codes[p.bin_country[bin_index]],
        **_new_account(ctx, email),
    )


WRITERS: dict[str, Callable[[_Context], Batch]] = {
    "card_testing": card_testing,
    "stolen_card": stolen_card,
    "account_takeover": account_takeover,
    "compromised_merchant": compromised_merchant,
    "bin_attack": bin_attack,
}


def fraud_batches(
    population: Population,
    rng: np.random.Generator,
    legit: tuple[Batch, Visits],
    rows: int,
    window_ms: tuple[int, int],
    progress: Callable[[int], object],
) -> list[Batch]:
    """Fraud rows of every scenario, about `rows` in all, in whole episodes inside
    `window_ms` (start, end). `progress` hears the rows written, once per scenario.

    An empty episode means the scenario does not fit in this history (too short): asking
    again would never fill its share, so the rest of its share goes to the next scenario and
    the fraud rate holds.
    """
    batches = []
    start_ms, end_ms = window_ms
    days = (end_ms - start_ms) // DAY_MS
    left_over = 0
    for name, share in SCENARIOS.items():
        context = _Context(population, rng, legit[0], legit[1], start_ms, days, name)
        budget, written = int(rows * share) + left_over, 0
        while written < budget:
            episode = WRITERS[name](context)
            if not len(episode["ts_ms"]):
                break
            inside = episode["ts_ms"] < end_ms  # a late episode may run past the end
            batches.append({column: values[inside] for column, values in episode.items()})
            written += int(inside.sum())
        left_over = max(budget - written, 0)
        progress(written)
    return batches
