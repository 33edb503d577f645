"""Model quality on a fixed, seeded simulated history, in one run: the default pipeline, a plain
baseline, and the pipeline tuned with a small trial budget, all on the same test window.

    nice -n 10 .venv/bin/python benchmarks/model_quality.py [--trials 8]

The baseline is XGBoost with its default settings (no early stopping, no calibration) on the
raw transaction fields and simple per-card counts. Prints a table and writes
reports/model_quality.md. Several minutes on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from feature_store.definitions import FEATURE_NAMES
from feature_store.offline import compute_features, times_ms
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from training.config import TrainingOptions, Tuning
from training.metrics import EvaluationSet, evaluate
from training.pipeline import time_split, train_artifact
from training.split import DAY_MS

SIMULATION = SimulationConfig(transactions=150_000, days=90, seed=11, fraud_rate=0.01)
BASELINE_FEATURES = (
    "amount_usd",
    "hour_of_day_utc",
    "channel_code",
    "merchant_mcc",
    "customer_account_age_days",
    "card_txn_count_1h",
    "card_txn_count_24h",
    "card_txn_count_7d",
)
METRICS = (("roc_auc", "ROC AUC"), ("average_precision", "average precision"))
REPORT = Path("reports/model_quality.md")


@dataclass(frozen=True)
class Row:
    name: str
    metrics: dict[str, object]
    seconds: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8, help="tuning budget (trials)")
    parser.add_argument("--seed", type=int, default=7, help="tuning seed")
    parser.add_argument(
        "--transactions", type=int, default=SIMULATION.transactions, help="for a quick check only"
    )
    args = parser.parse_args()
    began = time.monotonic()
    raw = simulate(replace(SIMULATION, transactions=args.transactions))
    history = normalise(raw, source="simulated")
    typology = raw["fraud_scenario"].to_numpy(dtype=object)
    rows = [_baseline(history)]
    with tempfile.TemporaryDirectory() as folder:
        for name, options in (
            ("default pipeline", TrainingOptions()),
            (
                f"tuned ({args.trials} trials, seed {args.seed})",
                TrainingOptions(tuning=Tuning(enabled=True, trials=args.trials, seed=args.seed)),
            ),
        ):
            start = time.monotonic()
            manifest = train_artifact(history, Path(folder) / "m", options, typology=typology)
            rows.append(Row(name, manifest.metrics["test"], time.monotonic() - start))
    table = _table(rows)
    print(table)
    _write_report(table, rows, args, time.monotonic() - began)
    print(f"wrote {REPORT}")


def _baseline(history: pd.DataFrame) -> Row:
    """XGBoost's defaults on raw fields and counts, trained on everything before the test
    window (training and validation windows), scored on the test window."""
    start = time.monotonic()
    absent = [name for name in BASELINE_FEATURES if name not in FEATURE_NAMES]
    if absent:
        raise SystemExit(f"baseline features no longer defined: {absent}; update the benchmark")
    features = compute_features(history)[list(BASELINE_FEATURES)].to_numpy(dtype=np.float32)
    labels = history["is_fraud"].to_numpy(dtype=np.int8)
    ts_ms = times_ms(history["timestamp"])
    split = time_split(ts_ms, TrainingOptions())
    fit_rows = np.concatenate([split.train, split.validation])
    classifier = xgb.XGBClassifier(n_jobs=2, random_state=7)
    classifier.fit(features[fit_rows], labels[fit_rows])
    test = split.test
    evaluation = EvaluationSet(
        y_true=labels[test],
        score=classifier.predict_proba(features[test])[:, 1].astype(np.float64),
        card_id=history["card_id"].to_numpy(dtype=object)[test],
        day=ts_ms[test] // DAY_MS,
        amount_usd=features[test, 0].astype(np.float64),
    )
    return Row(
        "baseline (XGBoost defaults, raw fields + counts)",
        evaluate(evaluation),
        time.monotonic() - start,
    )


def _table(rows: list[Row]) -> str:
    lines = [
        "| model | ROC AUC | average precision | card precision@100 | seconds |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        m = row.metrics
        lines.append(
            f"| {row.name} | {float(m['roc_auc']):.4f} | {float(m['average_precision']):.4f} | "
            f"{float(m['card_precision_at_k']):.4f} | {row.seconds:.0f} |"
        )
    baseline, default, tuned = (row.metrics for row in rows)
    for label, (better, worse) in (
        ("default over baseline", (default, baseline)),
        ("gain from tuning", (tuned, default)),
    ):
        lines.append(
            f"| {label} | {_diff(better, worse, 'roc_auc')} | "
            f"{_diff(better, worse, 'average_precision')} | "
            f"{_diff(better, worse, 'card_precision_at_k')} | |"
        )
    return "\n".join(lines)


def _diff(better: dict[str, object], worse: dict[str, object], key: str) -> str:
    return f"{float(better[key]) - float(worse[key]):+.4f}"


def _write_report(table: str, rows: list[Row], args: argparse.Namespace, seconds: float) -> None:
    test = rows[0].metrics
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        "# Model quality\n\n"
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {seconds:.0f} s in all: "
        f"`nice -n 10 .venv/bin/python benchmarks/model_quality.py --trials {args.trials} "
        f"--seed {args.seed} --transactions {args.transactions}`.\n\n"
        f"Simulated history: {args.transactions} transactions over {SIMULATION.days} "
        f"days, seed {SIMULATION.seed}, fraud rate {SIMULATION.fraud_rate}. Test window (the "
        f"default split's): {test['transactions']} transactions, {test['frauds']} fraud.\n\n"
        f"Baseline features: {', '.join(f'`{n}`' for n in BASELINE_FEATURES)}.\n\n"
        f"{table}\n"
    )


if __name__ == "__main__":
    main()
