"""The policy on the score path: compile time of a 200-rule policy and `decide` per transaction.

    .venv/bin/python benchmarks/bench_policy.py [--rules 200] [--calls 20000]
        [--transactions 2000] [--profile]

The rules are generated from realistic shapes (velocity limits, amount and country checks,
literal sets, missing checks, field-to-field comparisons and arithmetic, functions, and about
1 in 15 a list lookup); a tenth are shadow. The transactions are rows of a simulated history
with their point-in-time features (`feature_store.offline.compute_features`), frauds
over-sampled so that rules match. Prints the compile time of the whole file, p50/p90/p99 of
one `decide`, p50 and mean per rule, and with --profile where the time goes (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import time
from typing import Any

import numpy as np

from feature_store.definitions import FEATURE_NAMES
from feature_store.offline import compute_features
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from policy.decision import Policy
from policy.loader import parse_policy

COUNTRIES = ["US", "GB", "FR", "DE", "BR", "NG", "IN", "RU", "CN", "MX", "PL"]
COUNTS = [name for name in FEATURE_NAMES if "_txn_count_" in name or "_distinct_" in name]
SUMS = [name for name in FEATURE_NAMES if "_amount_usd_sum_" in name]
RATIOS = [name for name in FEATURE_NAMES if name.endswith("_amount_ratio_30d")]
HEAD = """\
bands: {review_at: 0.1, challenge_at: 0.5, decline_at: 0.9}
degraded: {approve_below: 0.05, otherwise: review}
lists:
  risky_bins: {kind: bin, entries: ["411111", "550000", "601100"]}
  blocked_ips: {kind: ip, entries: ["203.0.113.0/24", "198.51.100.7"]}
  blocked_devices: {kind: device_id, entries: ["dev_bad_1", "dev_bad_2"]}
  disposable: {kind: email_domain, entries: ["mailinator.com", "guerrillamail.com"]}
  trusted: {kind: merchant_id, entries: ["m_trusted"]}
rules:
"""


def _shapes(rng: random.Random) -> list[tuple[str, str]]:
    """Every rule shape with fresh thresholds, and its reason code."""
    count, total, ratio = rng.choice(COUNTS), rng.choice(SUMS), rng.choice(RATIOS)
    countries = ", ".join(f'"{c}"' for c in rng.sample(COUNTRIES, 3))
    n = rng.randint
    return [
        (f"{count} >= {n(3, 30)}", "VELOCITY_LIMIT"),
        (f"{total} > {n(500, 8000)} and {count} >= {n(2, 10)}", "VELOCITY_LIMIT"),
        (
            f"amount_usd > {n(300, 3000)} and card.country != device.ip_country",
            "HIGH_AMOUNT_CROSS_BORDER",
        ),
        (f"card.country in {{{countries}}} and amount_usd > {n(100, 2000)}", "HIGH_RISK_COUNTRY"),
        (
            f"customer.account_age_days < {n(1, 30)} and amount_usd > {n(200, 2000)}",
            "NEW_ACCOUNT_HIGH_AMOUNT",
        ),
        (f"{ratio} > {n(3, 12)} and present(customer.id)", "VELOCITY_LIMIT"),
        (f"missing(device.id) and amount_usd > {n(100, 1000)}", "MANUAL_REVIEW_REQUIRED"),
        (f"{total} > {count} * {n(100, 900)} and score > 0.{n(1, 8)}", "VELOCITY_LIMIT"),
        (
            f'channel == "moto" and merchant.mcc in {{"5967", "7995"}} and amount_usd >= '
            f"{n(50, 500)}",
            "MANUAL_REVIEW_REQUIRED",
        ),
        (
            f"card_amount_usd_sum_24h > {n(3, 8)} * card_amount_usd_sum_7d / 7 "
            f"and card_txn_count_24h >= {n(2, 6)}",
            "VELOCITY_LIMIT",
        ),
        (
            f"max(card_txn_count_1h, device_txn_count_1h, ip_txn_count_1h) >= {n(4, 15)} "
            f"or (bin_distinct_cards_1h >= {n(10, 30)} and amount_usd < {n(2, 10)})",
            "CARD_TESTING",
        ),
        (
            f"abs(card_amount_ratio_30d - 1) > {n(4, 20)} and not degraded "
            f'and shipping_country not in {{"US", "GB"}}',
            "HIGH_AMOUNT",
        ),
        (
            f"billing_country != shipping_country and card_device_is_new_30d == 1 "
            f"and amount_usd > {n(150, 1500)}",
            "HIGH_AMOUNT_CROSS_BORDER",
        ),
        ('card.bin in list("risky_bins") and amount_usd < 5', "CARD_TESTING"),
        (
            'device.ip in list("blocked_ips") or device.id in list("blocked_devices")',
            "BLOCK_LISTED_IP",
        ),
        ('lower(customer.email_domain) in list("disposable")', "BLOCK_LISTED_EMAIL_DOMAIN"),
    ]


def policy_text(rules: int, seed: int = 7) -> str:
    """A policy of `rules` generated rules with the default bands."""
    rng = random.Random(seed)
    items = []
    for i in range(rules):
        shapes = _shapes(rng)
        # A policy has a rule or two per list; most rules are limits over features and fields.
        weights = [1 if "list(" in when else 5 for when, _ in shapes]
        when, code = rng.choices(shapes, weights)[0]
        action = rng.choice(["review", "review", "challenge", "decline"])
        mode = "shadow" if i % 10 == 9 else "active"
        items.append(
            f"  - id: rule_{i:03d}\n    description: generated\n    when: '{when}'\n"
            f"    action: {action}\n    reason_code: {code}\n    mode: {mode}\n    owner: bench\n"
        )
    return HEAD + "".join(items)


Transaction = tuple[dict[str, Any], dict[str, float], float]


def transactions(count: int, seed: int = 21) -> list[Transaction]:
    """`count` rows of the second week of a simulated history: attributes, features, score."""
    history = normalise(simulate(SimulationConfig(transactions=20_000, days=14, seed=seed)), "sim")
    features = compute_features(history)
    recent = history.index[len(history) // 2 :]  # a week of history behind every row
    frauds = [i for i in recent if history.at[i, "is_fraud"] == 1][: count // 4]
    rng = np.random.default_rng(seed)
    others = rng.choice(recent.difference(frauds), count - len(frauds), replace=False)
    rows = history.loc[[*frauds, *others]]
    matrix = features.loc[rows.index].to_numpy()
    # No model here: a score spread like a calibrated one, higher for frauds.
    scores = np.where(rows["is_fraud"] == 1, rng.beta(2, 2, count), rng.beta(0.5, 12, count))
    return [
        (row, dict(zip(FEATURE_NAMES, values.tolist(), strict=True)), float(score))
        for row, values, score in zip(rows.to_dict("records"), matrix, scores, strict=True)
    ]


def _decide_all(policy: Policy, batch: list[Transaction], calls: int) -> tuple[list[float], int]:
    lists = policy.static_lists
    timings, matched = [], 0
    for i in range(calls):
        attributes, features, score = batch[i % len(batch)]
        started = time.perf_counter_ns()
        outcome = policy.decide(attributes=attributes, features=features, score=score, lists=lists)
        timings.append((time.perf_counter_ns() - started) / 1000)
        matched += len(outcome.matched) + len(outcome.shadow)
        assert not outcome.failed, outcome.failed
    return timings, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    args = parser.parse_args()
    text = policy_text(args.rules)
    compile_seconds = []
    for _ in range(5):
        started = time.perf_counter()
        policy = parse_policy(text, "bench.yaml")
        compile_seconds.append(time.perf_counter() - started)
    batch = transactions(args.transactions)
    _decide_all(policy, batch, len(batch))  # warm up
    timings, matched = _decide_all(policy, batch, args.calls)
    p50, p90, p99 = np.percentile(timings, [50, 90, 99])
    mean = statistics.fmean(timings)
    print(f"policy of {args.rules} rules; {args.calls:,} calls over {len(batch):,} transactions")
    print(f"  compile (parse, check, generate)  {statistics.median(compile_seconds) * 1e3:7.1f} ms")
    print(f"  decide p50 / p90 / p99            {p50:7.1f} / {p90:.1f} / {p99:.1f} us")
    print(f"  decide p50 per rule               {p50 / args.rules:7.2f} us")
    print(f"  decide mean                       {mean:7.1f} us  ({mean / args.rules:.2f} us/rule)")
    print(f"  rules matched per transaction     {matched / args.calls:7.2f}")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(_decide_all, policy, batch, args.calls)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
