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

from history.population import CHANNELS, MCCS, Population, build_population, random_ips
from history.schema import COLUMNS
from history.typologies import Batch, fraud_batches

Progress = Callable[[int], object]
DAY_MS = 86_400_000


@dataclass(frozen=True)
class SimulationConfig:
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


def simulate(config: SimulationConfig, progress: Progress | None = None) -> pd.DataFrame:
    """A history of about `config.transactions` rows with every schema column, plus
    `fraud_scenario` ("none" or the typology), sorted by time."""
    if not (0 <= config.fraud_rate < 0.5) or config.transactions < 100 or config.days < 2:
        raise ValueError("need >= 100 transactions, >= 2 days and a fraud rate in [0, 0.5)")
    step = progress or (lambda _n: None)
    rng = np.random.default_rng(config.seed)
    customers = config.customers or max(200, int(config.transactions / (config.days * 0.5)))
    merchants = config.merchants or max(40, customers // 40)
    population = build_population(rng, customers, merchants)
    fraud_rows = int(config.transactions * config.fraud_rate)
    legit = legitimate_batch(population, rng, config.transactions - fraud_rows, config)
    step(len(legit["ts_ms"]))
    batches = [
        legit,
        *fraud_batches(population, rng, legit, fraud_rows, config.start_ms, config.days),
    ]
    step(sum(len(b["ts_ms"]) for b in batches[1:]))
    return _frame(batches)


def legitimate_batch(
    population: Population, rng: np.random.Generator, n: int, config: SimulationConfig
) -> Batch:
    """Customers shopping by their own habits, mostly at their regular merchants."""
    p = population
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
    day = rng.integers(0, config.days, n)
    hour = (p.customer_hour[customer] + rng.normal(0.0, 2.5, n)) % 24
    ts_ms = config.start_ms + day * DAY_MS + (hour * 3_600_000).astype(np.int64)
    mcc = p.merchant_mcc[merchant]
    median = np.array([m[2] for m in MCCS])[mcc]
    amount = median * np.exp(
        p.customer_amount_mu[customer] + rng.normal(0, 1, n) * p.customer_amount_sigma[customer]
    )
    channel = _channels(rng, mcc)
    online = channel <= 1
    home = p.customer_country[customer]
    ip = np.where(
        rng.random(n) < 0.85, p.customer_ip[customer], random_ips(rng, p.country_octet[home])
    )
    device = p.customer_devices[customer, (rng.random(n) < 0.15).astype(np.int64)]
    ships = online | (channel == 3)
    return {
        "ts_ms": ts_ms,
        "amount": np.maximum(np.round(amount, 2), 0.5),
        "currency": np.where(
            rng.random(n) < 0.85, p.country_currency[p.merchant_country[merchant]], "USD"
        ),
        "card_id": p.card_ids[card],
        "card_bin": p.bin_codes[p.card_bin[card]],
        "card_country": p.country_codes[p.bin_country[p.card_bin[card]]],
        "customer_id": p.customer_ids[customer],
        "customer_account_age_days": p.customer_age_days[customer] + day,
        "email_domain": _present_where(rng.random(n) < 0.9, p.customer_email[customer]),
        "merchant_id": p.merchant_ids[merchant],
        "merchant_mcc": np.array([m[0] for m in MCCS], dtype=object)[mcc],
        "merchant_country": p.country_codes[p.merchant_country[merchant]],
        "channel": np.array(CHANNELS, dtype=object)[channel],
        "device_id": _present_where(online, p.device_ids[device]),
        "ip": _present_where(online, ip),
        "ip_country": _present_where(online, p.country_codes[home]),
        "billing_country": p.country_codes[home],
        "shipping_country": _present_where(ships, p.country_codes[home]),
        "is_fraud": np.zeros(n, dtype=np.int8),
        "label_ms": np.full(n, -1, dtype=np.int64),
        "fraud_scenario": np.full(n, "none", dtype=object),
    }


def _present_where(
    keep: npt.NDArray[np.bool_], values: npt.NDArray[Any]
) -> npt.NDArray[np.object_]:
    """`values` where `keep`, None (missing) elsewhere."""
    out = np.full(len(values), None, dtype=object)
    out[keep] = values[keep]
    return out


def _channels(rng: np.random.Generator, mcc: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A channel number per transaction, drawn from its merchant category's channel mix."""
    cumulative = np.cumsum(np.array([m[3] for m in MCCS]), axis=1)
    draws = rng.random(len(mcc))
    channel: npt.NDArray[np.int64] = (draws[:, None] > cumulative[mcc]).sum(axis=1).clip(0, 3)
    return channel


def _frame(batches: list[Batch]) -> pd.DataFrame:
    columns = {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}
    order = np.argsort(columns["ts_ms"], kind="stable")
    data = {name: values[order] for name, values in columns.items()}
    rows = len(order)
    frame = pd.DataFrame(
        {
            "transaction_id": np.array([f"tx_{i:09d}" for i in range(rows)], dtype=object),
            "timestamp": pd.to_datetime(data["ts_ms"], unit="ms", utc=True),
            **{name: data[name] for name in data if name not in ("ts_ms", "label_ms")},
        }
    )
    labels = pd.to_datetime(
        np.where(data["label_ms"] >= 0, data["label_ms"], 0), unit="ms", utc=True
    )
    frame["label_timestamp"] = labels.where(data["label_ms"] >= 0)
    frame["customer_account_age_days"] = frame["customer_account_age_days"].astype("Int64")
    for name in frame.columns:
        if frame[name].dtype == object or str(frame[name].dtype).startswith("str"):
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame[[c.name for c in COLUMNS] + ["fraud_scenario"]]
