"""Small hand-rolled histories for tests: dense in collisions, ties, gaps and missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from history.io import normalise


def tangled_history(rows: int = 400, seed: int = 3, days: int = 45) -> pd.DataFrame:
    """A normalised history where few entities share many transactions across every window."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-03-01", tz="UTC")
    # Bursts within minutes, same-millisecond ties, and gaps of weeks.
    seconds = rng.integers(0, days * 86_400, rows)
    burst = rng.integers(0, days * 86_400)
    seconds[: rows // 5] = burst + rng.integers(0, 5_400, rows // 5)
    seconds[rows // 5 : rows // 5 + 10] = burst + 60
    seconds = np.sort(seconds)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"t{i:05d}" for i in range(rows)],
            "timestamp": start + pd.to_timedelta(seconds, unit="s"),
            "card_id": rng.choice([f"card_{i}" for i in range(12)], rows),
            "merchant_id": rng.choice([f"m{i}" for i in range(6)], rows),
            "amount": rng.choice([0.5, 1.0, 12.34, 99.99, 2500.0], rows),
            "currency": rng.choice(["USD", "EUR", "JPY"], rows),
            "customer_id": _sometimes(rng, [f"cu{i}" for i in range(8)], rows),
            "card_bin": _sometimes(rng, ["411111", "522222"], rows),
            "card_country": _sometimes(rng, ["US", "GB"], rows),
            "merchant_mcc": _sometimes(rng, ["5411", "5816"], rows),
            "merchant_country": _sometimes(rng, ["US", "FR"], rows),
            "device_id": _sometimes(rng, [f"d{i}" for i in range(5)], rows),
            "ip": _sometimes(rng, ["10.0.0.1", "10.0.0.2", "192.0.2.7"], rows),
            "ip_country": _sometimes(rng, ["US", "GB", "NG"], rows),
            "channel": _sometimes(rng, ["ecom", "app", "pos"], rows),
            "billing_country": _sometimes(rng, ["US", "GB"], rows),
            "shipping_country": _sometimes(rng, ["US", "GB"], rows),
            "customer_account_age_days": rng.integers(0, 900, rows),
            "is_fraud": (rng.random(rows) < 0.2).astype(int),
        }
    )
    delays = pd.to_timedelta(rng.integers(3_600, 20 * 86_400, rows), unit="s")
    labelled = frame["is_fraud"].eq(1) & (rng.random(rows) < 0.7)
    frame["label_timestamp"] = (frame["timestamp"] + delays).where(labelled)
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return normalise(shuffled, source="tangled")


def _sometimes(rng: np.random.Generator, values: list[str], rows: int) -> list[str | None]:
    picked = rng.choice(values, rows)
    return [str(v) if rng.random() > 0.15 else None for v in picked]
