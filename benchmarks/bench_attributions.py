"""Online cost of a score and its attributions, one transaction at a time on one thread.

    .venv/bin/python benchmarks/bench_attributions.py [--model model_artifacts/default]
        [--iterations 20000] [--xgboost-iterations 300]

Times, per single row of a simulated history: `Model.scores` alone, `Model.explain` (score and
attributions in one ONNX Runtime run), `model_reasons` on its contributions, and for
comparison XGBoost's own attributions of one row (exact TreeSHAP and Saabas).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from feature_store.offline import compute_features
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from model.artifact import load_model
from model.manifest import XGBOOST_FILE
from model.reasons import model_reasons

Row = npt.NDArray[np.float32]


def _percentiles(name: str, call: Callable[[int], object], iterations: int) -> None:
    for i in range(min(iterations, 500)):  # warm-up
        call(i)
    times_ns = np.empty(iterations, dtype=np.int64)
    for i in range(iterations):
        started = time.perf_counter_ns()
        call(i)
        times_ns[i] = time.perf_counter_ns() - started
    p50, p90, p99 = np.percentile(times_ns / 1000, [50, 90, 99])
    print(f"  {name:<36} {p50:9.1f} {p90:9.1f} {p99:9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/default"))
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--xgboost-iterations", type=int, default=300)
    args = parser.parse_args()
    model = load_model(args.model)
    history = normalise(simulate(SimulationConfig(transactions=30_000, days=14, seed=21)), "s")
    matrix = compute_features(history).to_numpy(dtype=np.float32)[-5000:]
    rows: list[Row] = [np.ascontiguousarray(matrix[i : i + 1]) for i in range(len(matrix))]
    contributions = [model.explain(row).contributions for row in rows]
    classifier = xgb.XGBClassifier()
    classifier.load_model(args.model / XGBOOST_FILE)
    booster = classifier.get_booster()
    booster.set_param({"nthread": 1})
    trees = (0, classifier.best_iteration + 1)
    n = len(rows)

    def xgboost_contribs(i: int, *, approx: bool) -> object:
        row = xgb.DMatrix(rows[i % n], missing=np.nan, nthread=1)
        return booster.predict(
            row, pred_contribs=True, approx_contribs=approx, iteration_range=trees
        )

    print(f"model {model.version}, {n} rows of a simulated history, one row per call, one thread")
    print(f"  {'microseconds per call':<36} {'p50':>9} {'p90':>9} {'p99':>9}")
    _percentiles("Model.scores (score alone)", lambda i: model.scores(rows[i % n]), args.iterations)
    _percentiles(
        "Model.explain (score + attributions)",
        lambda i: model.explain(rows[i % n]),
        args.iterations,
    )
    _percentiles(
        "model_reasons (top 3 codes)",
        lambda i: model_reasons(contributions[i % n]),
        args.iterations,
    )
    _percentiles(
        "XGBoost pred_contribs, exact TreeSHAP",
        lambda i: xgboost_contribs(i, approx=False),
        args.xgboost_iterations,
    )
    _percentiles(
        "XGBoost pred_contribs, approx (Saabas)",
        lambda i: xgboost_contribs(i, approx=True),
        args.xgboost_iterations,
    )


if __name__ == "__main__":
    main()
