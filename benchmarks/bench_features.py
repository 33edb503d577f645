"""Offline feature computation on a 1.75 M-transaction, 6-month simulated history.

    .venv/bin/python benchmarks/bench_features.py [--transactions 1750000] [--days 182]

Prints the time of each step (the history is simulated first and not timed).
"""

from __future__ import annotations

import argparse
import time

from feature_store.definitions import FEATURES
from feature_store.offline import compute_features
from history.io import normalise
from history.simulator import SimulationConfig, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1_750_000)
    parser.add_argument("--days", type=int, default=182)
    args = parser.parse_args()
    history = simulate(SimulationConfig(transactions=args.transactions, days=args.days, seed=1))
    started = time.perf_counter()
    normalised = normalise(history, source="simulated")
    checked = time.perf_counter()
    marks: list[tuple[str, float]] = []
    compute_features(normalised, progress=lambda step: marks.append((step, time.perf_counter())))
    done = time.perf_counter()
    print(f"features for {len(history):,} transactions over {args.days} days")
    print(f"  schema checks    {checked - started:6.1f} s")
    previous = checked
    for step, at in marks:
        print(f"  {step:<28} {at - previous:6.1f} s")
        previous = at
    total = done - checked
    print(
        f"  features total   {total:6.1f} s ({len(history) / total:,.0f} transactions/s, "
        f"{len(FEATURES)} features)"
    )


if __name__ == "__main__":
    main()
