"""What the default model scores in degraded mode, and what the degraded rules would cost.

    .venv/bin/python benchmarks/degraded_mode.py [--transactions 200000] [--days 60] [--seed 11]

Simulates a history the default model never saw (another seed than `make model`), scores
every transaction as the service does when the feature store does not answer (the request's
own fields, every aggregate missing: `MISSING_AGGREGATES`) and prints the distribution of
those degraded scores, how much fraud each score band and each amount band holds, and the
share of transactions and of fraud USD that candidate degraded-mode limits would hold back.
The figures behind the degraded section of `policies/default.yaml` (docs/policy.md).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from feature_store.online import MISSING_AGGREGATES, Transaction, feature_values
from history.currency import usd_cents
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from model.artifact import load_model
from service.settings import DEFAULT_MODEL_DIR

Floats = npt.NDArray[np.float64]
SCORE_EDGES = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 1.0)
AMOUNT_EDGES = (0.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, float("inf"))


def degraded_scores(history: pd.DataFrame) -> Floats:
    """The score of each row with every aggregate missing, as the service scores it degraded."""
    model = load_model(DEFAULT_MODEL_DIR)
    attributes: list[dict[str, Any]] = [
        {str(name): value for name, value in row.items()}
        for row in history.drop(columns=["timestamp", "amount"]).to_dict("records")
    ]
    ts_ms = history["timestamp"].astype("int64").to_numpy() // 1_000_000
    amounts = history["amount"].to_numpy(dtype=np.float64)
    rows = []
    for index, row in enumerate(attributes):
        txn = Transaction.build(
            str(row["transaction_id"]),
            int(ts_ms[index]),
            float(amounts[index]),
            str(row["currency"]),
            row,
        )
        rows.append(feature_values(txn, MISSING_AGGREGATES))
    scores: Floats = np.asarray(model.scores(np.asarray(rows, dtype=np.float32)), np.float64)
    return scores


def _bands(
    label: str, values: Floats, edges: Sequence[float], fraud: npt.NDArray[np.bool_], usd: Floats
) -> None:
    print(f"\n{label:<18} {'share':>7} {'fraud rate':>10} {'of fraud':>9} {'of fraud USD':>12}")
    for low, high in itertools.pairwise(edges):
        inside = (values >= low) & (values < high)
        share = inside.mean()
        rate = fraud[inside].mean() if inside.any() else float("nan")
        print(
            f"[{low:g}, {high:g}){'':<{max(0, 14 - len(f'{low:g}, {high:g}'))}} {share:7.2%} "
            f"{rate:10.2%} {fraud[inside].sum() / fraud.sum():9.2%} "
            f"{usd[inside & fraud].sum() / usd[fraud].sum():12.2%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    config = SimulationConfig(transactions=args.transactions, days=args.days, seed=args.seed)
    history = normalise(simulate(config), source="simulated")
    scores = degraded_scores(history)
    fraud = history["is_fraud"].to_numpy() == 1
    usd = np.asarray(
        [usd_cents(a, c) / 100 for a, c in zip(history["amount"], history["currency"], strict=True)]
    )
    print(f"{len(history):,} transactions, {fraud.sum():,} fraud, seed {args.seed}")
    quantiles = np.quantile(scores, [0.5, 0.9, 0.99, 0.999])
    print("degraded score p50 / p90 / p99 / p99.9: " + " / ".join(f"{q:.5f}" for q in quantiles))
    print(f"degraded score max {scores.max():.4f}; ROC AUC {roc_auc_score(fraud, scores):.3f}")
    _bands("degraded score", scores, SCORE_EDGES, fraud, usd)
    _bands("amount USD", usd, AMOUNT_EDGES, fraud, usd)
    print(f"\n{'held back when':<36} {'share':>7} {'of fraud':>9} {'of fraud USD':>12}")
    for name, held in _candidates(scores, usd):
        print(
            f"{name:<36} {held.mean():7.2%} {fraud[held].sum() / fraud.sum():9.2%} "
            f"{usd[held & fraud].sum() / usd[fraud].sum():12.2%}"
        )


def _candidates(scores: Floats, usd: Floats) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    out = [(f"score >= {limit:g}", scores >= limit) for limit in (0.05, 0.01, 0.005, 0.002)]
    out += [(f"amount_usd > {limit:g}", usd > limit) for limit in (100, 250, 500, 1000)]
    for limit, amount in ((0.005, 500), (0.01, 250), (0.01, 500), (0.01, 1000)):
        out.append(
            (f"score >= {limit:g} or amount_usd > {amount}", (scores >= limit) | (usd > amount))
        )
    return out


if __name__ == "__main__":
    main()
