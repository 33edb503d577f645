"""Decision records shaped like the score path's stored decision (scoring/pipeline.py), about
3.5 KB of JSON each: 123 feature values in the layout the score path writes (record version 3),
reasons, rules, versions, timings."""

from __future__ import annotations

import random
import time
from typing import Any

import orjson

from feature_store.definitions import FEATURE_NAMES
from model.reasons import MODEL_CODES, REASON_CODES
from scoring.record_codec import FEATURE_LAYOUT, FEATURE_ORDER

DECISIONS = ("approve", "review", "challenge", "decline")


def _model_reason(rng: random.Random, code: str) -> dict[str, Any]:
    """A model reason as record version 2 keeps it: the features behind it and their
    contributions, which add up to its weight."""
    first, second = rng.sample(FEATURE_NAMES, 2)
    parts = [round(rng.uniform(0.02, 0.7), 4), round(rng.uniform(0.02, 0.7), 4)]
    return {
        "code": code,
        "source": "model",
        "message": REASON_CODES[code].message,
        "weight": round(sum(parts), 4),
        "contributions": {first: parts[0], second: parts[1]},
    }


def make_record(
    transaction_id: str,
    *,
    decided_at_ms: int | None = None,
    occurred_at_ms: int | None = None,
    seed: int | None = None,
    positional: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """One record; `overrides` replace top-level fields, `transaction` keys go in it. Without
    `positional`, the features are a name -> value object (records before version 3)."""
    rng = random.Random(seed if seed is not None else transaction_id)
    decided = decided_at_ms if decided_at_ms is not None else int(time.time() * 1000)
    occurred = occurred_at_ms if occurred_at_ms is not None else decided - rng.randint(5, 500)
    amount = round(rng.uniform(1, 2_000), 2)
    transaction = {
        "timestamp_ms": occurred,
        "amount": amount,
        "currency": "EUR",
        "card_id": f"card_{rng.randint(1, 50_000)}",
        "card_bin": "424242",
        "card_country": "FR",
        "merchant_id": f"m_{rng.randint(1, 2_000)}",
        "merchant_mcc": "5732",
        "merchant_country": "FR",
        "customer_id": f"cust_{rng.randint(1, 40_000)}",
        "email_domain": "example.com",
        "customer_account_age_days": rng.randint(0, 3_000),
        "device_id": f"dev_{rng.randint(1, 60_000)}",
        "ip": f"203.0.113.{rng.randint(1, 254)}",
        "ip_country": "FR",
        "channel": "ecom",
        "billing_country": "FR",
        "shipping_country": "FR",
    }
    transaction.update(overrides.pop("transaction", {}))
    record: dict[str, Any] = {
        "transaction_id": transaction_id,
        "decision": rng.choice(DECISIONS),
        "score": round(rng.random(), 6),
        "reasons": [_model_reason(rng, code) for code in rng.sample(MODEL_CODES, 3)],
        "rules_matched": ["high_amount_new_device"] if rng.random() < 0.2 else [],
        "model_version": "model-2026-11-20-7f3a",
        "policy_version": "policy-41-c0ffee",
        "feature_set_version": "fs-v3-9a1b2c",
        "degraded": False,
        "replayed": False,
        "shadow_rules_matched": ["velocity_shadow"] if rng.random() < 0.1 else [],
        "expired_rules": [],
        "fingerprint": f"{rng.getrandbits(128):032x}",
        "transaction": transaction,
        "features": {
            name: float(rng.randint(0, 40)) if i % 2 else round(rng.uniform(0, 500), 4)
            for i, name in enumerate(FEATURE_ORDER)
        },
        "margin": round(rng.uniform(-8, 3), 6),
        "timings_us": {"features": 310, "model": 22, "attributions": 16, "rules": 9},
        "decided_at_ms": decided,
    }
    if positional:
        record["features"] = list(record["features"].values())
        record["feature_layout"] = FEATURE_LAYOUT
    record.update(overrides)
    return record


def record_body(transaction_id: str, **options: Any) -> bytes:
    return orjson.dumps(make_record(transaction_id, **options))
