"""Fraud with stolen card data: testing, BIN attacks, sprees, merchant breaches and slow burns.

Each function writes one episode for `history.typologies`; docs/simulator.md describes each
one and the signals it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from history.episodes import (
    DAY_MS,
    DIGITAL_MCCS,
    FRAUD_COUNTRIES,
    HOUR_MS,
    MINUTE_MS,
    ONLINE_MCCS,
    RESALE_MCCS,
    Batch,
    EpisodeContext,
    Fraudster,
    card_columns,
    card_country,
    joined,
    new_account,
    rows,
    victim_card,
)
from history.population import MCCS, Ints, merchants_of, popular_merchants

# What cloned cards buy at a till: goods to resell, and everyday shopping.
COUNTERFEIT_MCCS = ("5732", "5999", "5411", "5947")

# A merchant breach lasts a week; its cards are defrauded 2-29 days after it ends (the bounds
# of `Generator.integers`, the upper one excluded), sooner when the history ends sooner.
BREACH_DAYS = 7
BREACH_TO_FRAUD_DAYS = (2, 30)
LOST_CARD_SHARE = 0.5  # of stolen-card episodes: the card itself, used at tills


@dataclass(frozen=True)
class Spend:
    """How a fraudster cashes out a card: typical amount, its spread, where."""

    median_usd: float
    sigma: float
    resale_share: float  # of purchases at resale merchants, the rest at any online one


def card_testing(ctx: EpisodeContext) -> Batch:
    """A stolen card checked with a burst of small attempts within minutes to an hour."""
    rng = ctx.rng
    card, _ = victim_card(ctx)
    attempts = int(rng.integers(3, 26))
    ts = ctx.start() + np.sort(rng.integers(0, int(rng.integers(2, 61)) * MINUTE_MS, attempts))
    who = ctx.fraudster(local=card_country(ctx, card), proxy_share=0.4)
    spread = rng.random() < 0.3
    return rows(
        ctx,
        ts,
        merchant=ctx.popular(DIGITAL_MCCS, attempts if spread else 1),
        amount=np.round(rng.uniform(0.5, 5.0, attempts), 2),
        channel="ecom",
        device_id=who.device,
        ip=who.ip,
        ip_country=ctx.population.country_codes[who.country],
        billing_country=None,
        shipping_country=None,
        **card_columns(ctx, card),
        **new_account(ctx, who.email),
    )


def bin_attack(ctx: EpisodeContext) -> Batch:
    """Card numbers enumerated within one BIN, tried in minutes from one device; half the
    attacks rotate through a proxy pool in the BIN's country, one IP per attempt."""
    rng, p = ctx.rng, ctx.population
    bin_index = int(rng.integers(0, len(p.bin_codes)))
    count = int(rng.integers(20, 101))
    ts = ctx.start() + np.sort(rng.integers(0, int(rng.integers(10, 61)) * MINUTE_MS, count))
    who = ctx.fraudster()
    country = int(p.bin_country[bin_index])
    rotate = rng.random() < 0.5
    first = int(rng.integers(0, 1 << 36))
    return rows(
        ctx,
        ts,
        merchant=ctx.popular(DIGITAL_MCCS, 1),
        amount=np.round(rng.uniform(1.0, 10.0, count), 2),
        channel="ecom",
        device_id=who.device,
        ip=ctx.ips_in(country, count) if rotate else who.ip,
        ip_country=p.country_codes[country if rotate else who.country],
        billing_country=None,
        shipping_country=None,
        card_id=np.array([f"card_b{first + i:010x}" for i in range(count)], dtype=object),
        card_bin=p.bin_codes[bin_index],
        card_country=p.country_codes[country],
        **new_account(ctx, who.email),
    )


def stolen_card(ctx: EpisodeContext) -> Batch:
    """A stolen card spent at several merchants within hours to three days: card data used
    online, or a lost or stolen card itself used at tills in its own country."""
    rng = ctx.rng
    card, _ = victim_card(ctx)
    count = int(rng.integers(2, 10))
    ts = ctx.start(3) + np.sort(rng.integers(0, int(rng.integers(1, 73)) * HOUR_MS, count))
    how = Spend(median_usd=150.0, sigma=0.7, resale_share=0.7)
    if rng.random() < LOST_CARD_SHARE:
        return counterfeit(ctx, card, ts, how, abroad_share=0.0)
    who = ctx.fraudster(local=card_country(ctx, card), proxy_share=0.5)
    return spend(ctx, card, ts, who, how)


def spend(ctx: EpisodeContext, card: int, ts: Ints, who: Fraudster, how: Spend) -> Batch:
    """A fraudster's online purchases with a stolen card through one account; shipped to a
    drop address in the card's country, to the fraudster's, or nowhere (digital goods)."""
    rng, p = ctx.rng, ctx.population
    count = len(ts)
    home = card_country(ctx, card)
    resale = rng.random(count) < how.resale_share
    merchant = np.where(resale, ctx.popular(RESALE_MCCS, count), ctx.popular(ONLINE_MCCS, count))
    draw = rng.random()
    shipping = home if draw < 0.45 else (who.country if draw < 0.8 else -1)
    return rows(
        ctx,
        ts,
        merchant=merchant,
        amount=np.round(rng.lognormal(np.log(how.median_usd), how.sigma, count), 2),
        channel=str(rng.choice(["ecom", "app"], p=[0.8, 0.2])),
        device_id=who.device,
        ip=who.ip,
        ip_country=p.country_codes[who.country],
        billing_country=p.country_codes[home],
        shipping_country=p.country_codes[shipping] if shipping >= 0 else None,
        **card_columns(ctx, card),
        **new_account(ctx, who.email),
    )


def compromised_merchant(ctx: EpisodeContext) -> Batch:
    """Card data stolen at one merchant during a breach; those cards are defrauded elsewhere
    days to weeks later, once or twice each, quietly. The visits to the breached merchant
    stay legitimate. Empty in a history too short for the breach and the wait after it."""
    rng, visits = ctx.rng, ctx.visits
    if ctx.days <= BREACH_DAYS + BREACH_TO_FRAUD_DAYS[0]:
        return ctx.empty()
    breach_start = ctx.start(BREACH_DAYS + BREACH_TO_FRAUD_DAYS[0] + 1)
    breach_end = breach_start + BREACH_DAYS * DAY_MS
    lo, hi = np.searchsorted(visits.ts_ms, [breach_start, breach_end])
    if hi - lo == 0:
        return stolen_card(ctx)
    # A busy merchant is more likely breached: pick the merchant of a random visit.
    breached = visits.merchant[int(rng.integers(lo, hi))]
    cards = np.unique(visits.card[lo:hi][visits.merchant[lo:hi] == breached])
    victims = rng.choice(cards, size=min(len(cards), int(rng.integers(5, 41))), replace=False)
    days_left = (ctx.end_ms - breach_end) // DAY_MS
    wait_days = (BREACH_TO_FRAUD_DAYS[0], max(min(BREACH_TO_FRAUD_DAYS[1], days_left), 3))
    # A skimmer at a till leaks cards that are cloned and used at other tills; a web shop's
    # checkout leaks card data that is used online.
    skimmed = _point_of_sale_share(ctx, int(breached)) >= 0.5
    how = Spend(median_usd=90.0, sigma=0.8, resale_share=0.5)
    parts = []
    for card in victims.tolist():
        count = int(rng.integers(1, 3))
        start = breach_end + int(rng.integers(*wait_days)) * DAY_MS
        ts = start + np.sort(rng.integers(0, int(rng.integers(1, 73)) * HOUR_MS, count))
        if skimmed:
            parts.append(counterfeit(ctx, card, ts, how, abroad_share=0.3))
        else:
            who = ctx.fraudster(local=card_country(ctx, card), proxy_share=0.7)
            parts.append(spend(ctx, card, ts, who, how))
    return joined(ctx, parts)


def _point_of_sale_share(ctx: EpisodeContext, merchant: int) -> float:
    mcc = ctx.population.merchant_mcc[merchant]
    return float(MCCS[mcc][3][2])


def counterfeit(ctx: EpisodeContext, card: int, ts: Ints, how: Spend, abroad_share: float) -> Batch:
    """A card (or its clone) used at tills, in its own country or abroad: no device, IP or
    shipping, the owner's account on file (as on the owner's own purchases at a till)."""
    rng, p = ctx.rng, ctx.population
    owner = int(p.card_owner[card])
    abroad = rng.random() < abroad_share
    country = int(rng.choice(FRAUD_COUNTRIES)) if abroad else card_country(ctx, card)
    local = np.flatnonzero(p.merchant_country == country)
    pool = np.intersect1d(local, merchants_of(p, COUNTERFEIT_MCCS))
    count = len(ts)
    merchant = (
        popular_merchants(p, rng, pool if len(pool) else local, count)
        if len(local)
        else ctx.popular(COUNTERFEIT_MCCS, count)
    )
    return rows(
        ctx,
        ts,
        merchant=merchant,
        amount=np.round(rng.lognormal(np.log(how.median_usd * 1.5), how.sigma, count), 2),
        channel="pos",
        device_id=None,
        ip=None,
        ip_country=None,
        billing_country=p.country_codes[p.customer_country[owner]],
        shipping_country=None,
        customer_id=p.customer_ids[owner],
        customer_account_age_days=int(
            p.customer_age_days[owner] + (ts[0] - ctx.start_ms) // DAY_MS
        ),
        email_domain=p.customer_email[owner],
        **card_columns(ctx, card),
    )


def slow_burn(ctx: EpisodeContext) -> Batch:
    """A stolen card used sparingly, once every 1-7 days for weeks, at ordinary online
    merchants for ordinary amounts, from one device and account behind a proxy in the card's
    country,
    until the first chargeback gets the card blocked: no burst to see, and no label either."""
    rng, p = ctx.rng, ctx.population
    card, _ = victim_card(ctx)
    count = int(rng.integers(3, 11))
    gaps = rng.integers(1, 8, count) * DAY_MS + rng.integers(-6, 7, count) * HOUR_MS
    ts = ctx.start(3) + np.cumsum(gaps) - gaps[0]
    home = card_country(ctx, card)
    who = ctx.fraudster(local=home, proxy_share=0.8)
    burn = rows(
        ctx,
        ts,
        merchant=ctx.popular(ONLINE_MCCS, count),
        amount=np.round(rng.lognormal(np.log(60.0), 0.7, count), 2),
        channel="ecom",
        device_id=who.device,
        ip=who.ip if rng.random() < 0.5 else ctx.ips_in(who.country, count),
        ip_country=p.country_codes[who.country],
        billing_country=p.country_codes[home],
        shipping_country=p.country_codes[home] if rng.random() < 0.7 else None,
        **card_columns(ctx, card),
        **new_account(ctx, who.email),
    )
    # The first chargeback gets the card blocked: nothing after it.
    before = burn["ts_ms"] < burn["label_ms"].min()
    return {name: values[before] for name, values in burn.items()}
