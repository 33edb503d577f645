"""Online cost of a score and its explanation, one transaction at a time on one thread.

    .venv/bin/python benchmarks/bench_attributions.py [--model model_artifacts/default]
        [--iterations 20000] [--xgboost-iterations 300]

Times, per single row of a simulated history: `Model.score_one` (what every decision costs),
exact TreeSHAP alone (`TreeShap.contributions`), what an explained decision adds
(`explained_reasons`: exact TreeSHAP and the grouping into codes in one compiled call, at or
above the review band) and the whole of it with the score, on the rows the model scores at or
above the review band; and for comparison XGBoost's own attributions of one row (exact
TreeSHAP and Saabas). CPU time of the calling thread (`time.thread_time_ns`) is printed beside
wall time: on a shared machine the difference is time the thread was not running.
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
from model.reasoning import explained_reasons

Row = npt.NDArray[np.float32]


def _percentiles(name: str, call: Callable[[int], object], iterations: int) -> None:
    for i in range(min(iterations, 500)):  # warm-up
        call(i)
    wall_ns = np.empty(iterations, dtype=np.int64)
    cpu_ns = np.empty(iterations, dtype=np.int64)
    for i in range(iterations):
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        call(i)
        cpu_ns[i] = time.thread_time_ns() - started_cpu
        wall_ns[i] = time.perf_counter_ns() - started
    p50, p90, p99 = np.percentile(wall_ns / 1000, [50, 90, 99])
    cpu50, cpu90 = np.percentile(cpu_ns / 1000, [50, 90])
    print(f"  {name:<40} {p50:9.1f} {p90:9.1f} {p99:9.1f} {cpu50:9.1f} {cpu90:9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/default"))
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--xgboost-iterations", type=int, default=300)
    args = parser.parse_args()
    model = load_model(args.model)
    history = normalise(simulate(SimulationConfig(transactions=30_000, days=14, seed=21)), "s")
    matrix = compute_features(history).to_numpy(dtype=np.float32)
    rows: list[Row] = [
        np.ascontiguousarray(matrix[i : i + 1]) for i in range(len(matrix) - 5000, len(matrix))
    ]
    scores = model.scores(matrix)
    review_at = model.manifest.suggested_score_bands.review_at
    # The decisions the service explains: at or above the review band (the top 500 if fewer).
    above = np.flatnonzero(scores >= review_at)
    picked = above if len(above) >= 500 else np.argsort(-scores)[:500]
    explained: list[Row] = [np.ascontiguousarray(matrix[i : i + 1]) for i in picked]
    low, high = model.normal_low, model.normal_high
    classifier = xgb.XGBClassifier()
    classifier.load_model(args.model / XGBOOST_FILE)
    booster = classifier.get_booster()
    booster.set_param({"nthread": 1})
    trees = (0, classifier.best_iteration + 1)
    n, e = len(rows), len(explained)

    def explain(i: int) -> object:
        """What the score path adds for a decision at or above the review band."""
        row = explained[i % e]
        return explained_reasons(model.shap, row, row[0], low, high)

    def xgboost_contribs(i: int, *, approx: bool) -> object:
        row = xgb.DMatrix(explained[i % e], missing=np.nan, nthread=1)
        return booster.predict(
            row, pred_contribs=True, approx_contribs=approx, iteration_range=trees
        )

    print(
        f"model {model.version}: {n} rows of a simulated history; {e} rows scored at or above "
        f"{review_at:g} ({len(above)} of {len(matrix)} are), one row per call, one thread"
    )
    print(
        f"  {'microseconds per call':<40} {'p50':>9} {'p90':>9} {'p99':>9} "
        f"{'cpu p50':>9} {'cpu p90':>9}"
    )
    _percentiles(
        "Model.score_one (every decision)", lambda i: model.score_one(rows[i % n]), args.iterations
    )
    _percentiles(
        "TreeShap.contributions (exact)",
        lambda i: model.shap.contributions(explained[i % e]),
        args.iterations,
    )
    _percentiles("explained: explained_reasons", explain, args.iterations)
    _percentiles(
        "the whole explained decision: score too",
        lambda i: (model.score_one(explained[i % e]), explain(i)),
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
