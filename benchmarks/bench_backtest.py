"""A backtest of a 50-rule policy against its baseline over 1 M simulated transactions.

    .venv/bin/python benchmarks/bench_backtest.py [--transactions 1000000] [--rules 50]

Prints the time of each stage: simulate (not part of a backtest), features (once), scores
(once, default model), rules (both policies over whole columns, statistics, unique catches)
and report (markdown and chart). Target: features + scores + rules + report <= 60 s.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from backtest.evaluation import backtest, replay_history
from backtest.report import write_backtest
from feature_store.definitions import FEATURE_NAMES
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from model.artifact import load_model
from policy.loader import parse_policy
from service.settings import DEFAULT_MODEL_DIR

VELOCITY = [name for name in FEATURE_NAMES if "_txn_count_" in name or "_distinct_" in name]
HEAD = """\
bands: {review_at: 0.1, challenge_at: 0.5, decline_at: 0.9}
degraded: {approve_below: 0.05, otherwise: review}
lists:
  bins: {kind: bin, entries: ["557684", "507726", "545686"]}
  domains: {kind: email_domain, entries: ["mailinator.com", "proton.me"]}
rules:
"""


def condition(rng: random.Random) -> str:
    """One rule condition of a common shape, with random thresholds."""
    velocity = rng.choice(VELOCITY)
    shapes = [
        f"{velocity} >= {rng.randint(2, 20)}",
        f"amount_usd > {rng.randint(200, 3000)} and card.country != device.ip_country",
        f'card.country in {{"BR", "NG", "RU"}} and amount_usd > {rng.randint(50, 900)}',
        f"customer.account_age_days < {rng.randint(1, 30)} and amount_usd > "
        f"{rng.randint(100, 900)}",
        f'card.bin in list("bins") and amount_usd < {rng.randint(2, 20)}',
        'lower(customer.email_domain) in list("domains") and missing(device.id)',
        f"{velocity} > 2 and score > 0.{rng.randint(1, 8)}",
        'channel == "moto" and amount_usd / max(customer.account_age_days, 1) > '
        f"{rng.randint(5, 50)}",
    ]
    return rng.choice(shapes)


def policy_text(rules: int, seed: int) -> str:
    rng = random.Random(seed)
    items = []
    for i in range(rules):
        action = rng.choice(["review", "review", "challenge", "decline"])
        mode = "shadow" if i % 10 == 9 else "active"
        items.append(
            f"  - id: rule_{i:03d}\n    description: generated\n    when: '{condition(rng)}'\n"
            f"    action: {action}\n    reason_code: VELOCITY_LIMIT\n    mode: {mode}\n"
            "    owner: bench\n"
        )
    return HEAD + "".join(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rules", type=int, default=50)
    args = parser.parse_args()

    started = time.perf_counter()
    config = SimulationConfig(transactions=args.transactions, days=args.days, seed=7)
    history = normalise(simulate(config), source="simulated")
    print(f"simulate {len(history):,} transactions: {time.perf_counter() - started:.1f} s")

    timings: dict[str, float] = {}
    replay = replay_history(history, load_model(DEFAULT_MODEL_DIR), timings=timings)
    new = parse_policy(policy_text(args.rules, seed=1), "new.yaml")
    baseline = parse_policy(policy_text(args.rules, seed=2), "baseline.yaml")
    started = time.perf_counter()
    result = backtest(new, replay, baseline=baseline)
    timings["rules"] = time.perf_counter() - started
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        write_backtest(result, Path(out))
    timings["report"] = time.perf_counter() - started

    for stage, seconds in timings.items():
        print(f"{stage:>8}: {seconds:6.1f} s")
    print(f"   total: {sum(timings.values()):6.1f} s (target <= 60 s), {result.changed:,} changed")


if __name__ == "__main__":
    main()
