"""Simulator: wall time of `simulate()` for a history of a million transactions.

    .venv/bin/python benchmarks/bench_simulator.py [--transactions 1000000] [--days 60]

The target is at most 60 s for 1 M transactions on a 2-core machine (docs/simulator.md).
"""

from __future__ import annotations

import argparse
import time

from history.simulator import SimulationConfig, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = SimulationConfig(transactions=args.transactions, days=args.days, seed=args.seed)
    started = time.perf_counter()
    frame = simulate(config)
    seconds = time.perf_counter() - started
    frauds = int(frame["is_fraud"].sum())
    print(f"simulate: {config.transactions:,} transactions asked, {config.days} days")
    print(f"  rows     {len(frame):,} ({frauds:,} fraud, {frauds / len(frame):.2%})")
    print(f"  seconds  {seconds:.1f}")
    print(f"  rows/s   {len(frame) / seconds:,.0f}")


if __name__ == "__main__":
    main()
