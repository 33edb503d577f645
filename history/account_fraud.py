"""Fraud through a real customer's account: a loud takeover, a quiet one that mimics the
owner's merchants and amounts, and the owner's own (first-party, "friendly") fraud.

Each function writes one episode for `history.typologies`; docs/simulator.md describes each
one and the signals it leaves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from history.episodes import (
    DAY_MS,
    HOUR_MS,
    RESALE_MCCS,
    Batch,
    EpisodeContext,
    card_columns,
    rows,
)
from history.population import MCCS, habit_amounts

# What the owner later says they never bought: digital goods, electronics, retail, gift cards.
FRIENDLY_MCCS = ("5816", "5732", "5999", "5947")


def _victim(ctx: EpisodeContext) -> tuple[int, int]:
    """An account worth taking over: busy customers more often. (customer, card)."""
    p = ctx.population
    weight = p.customer_weight / p.customer_weight.sum()
    customer = int(ctx.rng.choice(len(weight), p=weight))
    return customer, int(p.customer_cards[customer, 0])


def _account_columns(ctx: EpisodeContext, customer: int, first_ms: int) -> dict[str, Any]:
    p = ctx.population
    return {
        "customer_id": p.customer_ids[customer],
        "customer_account_age_days": int(
            p.customer_age_days[customer] + (first_ms - ctx.start_ms) // DAY_MS
        ),
        "email_domain": p.customer_email[customer],
        "billing_country": p.country_codes[p.customer_country[customer]],
    }


def account_takeover(ctx: EpisodeContext) -> Batch:
    """A real customer's account used from a new device, abroad or through a proxy at home,
    for 1-4 purchases within a day at resale merchants, well above the owner's habit."""
    rng, p = ctx.rng, ctx.population
    customer, card = _victim(ctx)
    home = int(p.customer_country[customer])
    count = int(rng.integers(1, 5))
    ts = ctx.start(1) + np.sort(rng.integers(0, 24 * HOUR_MS, count))
    who = ctx.fraudster(home=home, local=home, proxy_share=0.4)
    merchant = ctx.popular(RESALE_MCCS, count)
    habit = habit_amounts(p, rng, np.full(count, customer), merchant)
    drop = who.country if who.country != home else int(rng.choice([home, -1]))
    return rows(
        ctx,
        ts,
        merchant=merchant,
        amount=np.round(habit * rng.lognormal(np.log(3.0), 0.5, count), 2),
        channel=str(rng.choice(["ecom", "app"])),
        device_id=who.device,
        ip=who.ip,
        ip_country=p.country_codes[who.country],
        shipping_country=p.country_codes[drop] if drop >= 0 else None,
        **_account_columns(ctx, customer, int(ts[0])),
        **card_columns(ctx, card),
    )


def quiet_takeover(ctx: EpisodeContext) -> Batch:
    """A taken-over account used like its owner would: 2-6 purchases over 1-14 days at the
    owner's own regular merchants, amounts drawn from the owner's habit, shipped to a drop
    address in the owner's country; from a residential proxy in that country on a new device
    or a copy of the owner's fingerprint, or from the owner's own device and connection."""
    rng, p = ctx.rng, ctx.population
    customer, card = _victim(ctx)
    home = int(p.customer_country[customer])
    count = int(rng.integers(2, 7))
    ts = ctx.start(2) + np.sort(rng.integers(0, int(rng.integers(1, 15)) * DAY_MS, count))
    who = ctx.fraudster(local=home, proxy_share=1.0)
    merchant = _online_regulars(ctx, customer, count)
    # A new device; a copy of the owner's fingerprint (anti-detect browser); or the owner's own
    # device and home connection, driven remotely (remote-access malware).
    how = rng.choice(3, p=[0.35, 0.35, 0.30])
    device = p.device_ids[p.customer_devices[customer, 0]] if how else who.device
    return rows(
        ctx,
        ts,
        merchant=merchant,
        amount=np.round(habit_amounts(p, rng, np.full(count, customer), merchant), 2),
        channel=str(rng.choice(["ecom", "app"])),
        device_id=device,
        ip=p.customer_ip[customer] if how == 2 else who.ip,
        ip_country=p.country_codes[who.country],
        shipping_country=p.country_codes[home],
        **_account_columns(ctx, customer, int(ts[0])),
        **card_columns(ctx, card),
    )


def _online_regulars(ctx: EpisodeContext, customer: int, count: int) -> Any:
    """The owner's regular merchants that sell online, or all the owner's regulars."""
    p = ctx.population
    regulars = p.customer_regulars[customer]
    online_share = np.array([m[3][0] + m[3][1] for m in MCCS])[p.merchant_mcc[regulars]]
    pool = regulars[online_share >= 0.5]
    return ctx.rng.choice(pool if len(pool) else regulars, size=count)


def friendly_fraud(ctx: EpisodeContext) -> Batch:
    """First-party misuse: the owner buys online with their own card, account, device and home
    IP, a little above their habit, then disputes the purchase as not theirs; 1-3 times over
    up to a month (those who get away with it once try again)."""
    rng, p = ctx.rng, ctx.population
    customer, card = _victim(ctx)
    count = int(rng.integers(1, 4))
    ts = ctx.start(2) + np.sort(rng.integers(0, int(rng.integers(1, 31)) * DAY_MS, count))
    merchant = ctx.popular(FRIENDLY_MCCS, count)
    habit = habit_amounts(p, rng, np.full(count, customer), merchant)
    home = p.customer_country[customer]
    return rows(
        ctx,
        ts,
        merchant=merchant,
        amount=np.round(habit * rng.lognormal(np.log(1.5), 0.4, count), 2),
        channel=str(rng.choice(["ecom", "app"])),
        device_id=p.device_ids[p.customer_devices[customer, 0]],
        ip=p.customer_ip[customer],
        ip_country=p.country_codes[home],
        shipping_country=p.country_codes[home],
        **_account_columns(ctx, customer, int(ts[0])),
        **card_columns(ctx, card),
    )
