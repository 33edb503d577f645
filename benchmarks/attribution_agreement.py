"""Do the service's attributions give the same reason codes as XGBoost's exact TreeSHAP? On
the default model's test window, regenerated as `make model` makes it.

    .venv/bin/python benchmarks/attribution_agreement.py [--model model_artifacts/default]

Simulates the history of `make model` (400 000 transactions, 120 days, seed 7; refused unless
its fingerprint is the manifest's), computes the features, keeps the manifest's test window and
compares the top-3 model reason codes the service gives (`model.reasoning.explained_reasons`:
exact TreeSHAP, `model/treeshap.py`, and the grouping into codes with the model's normal
ranges, in one call) with those `model_reasons` gives from XGBoost's exact TreeSHAP
(`pred_contribs=True`); and,
for reference, those of the Saabas path attributions the service used before
(`attributions.onnx`). Takes a few minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from feature_store.offline import compute_features, times_ms
from history.io import load_history, save_history
from history.simulator import SimulationConfig, simulate
from model.artifact import Model, load_model
from model.manifest import CONTRIBUTIONS_OUTPUT, XGBOOST_FILE, Manifest
from model.reasoning import explained_reasons, model_reasons
from training.pipeline import fingerprint

MAKE_MODEL = SimulationConfig(transactions=400_000, days=120, seed=7)


def _test_window(model: Model) -> npt.NDArray[np.float32]:
    """The features of the test window's rows, from the history `make model` trained on."""
    manifest = model.manifest
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.parquet"
        save_history(simulate(MAKE_MODEL), path)  # as `riskscore simulate` then `train` read it
        history = load_history(path)
    if fingerprint(history) != manifest.training_data.fingerprint:
        sys.exit(f"{model.directory}: not trained on the `make model` history; nothing to compare")
    features = compute_features(history, label_delay_seconds=manifest.label_delay_seconds)
    ts_ms = times_ms(history["timestamp"])
    test = manifest.split["test"]
    start, end = (_ms(test.start), _ms(test.end))
    rows = np.flatnonzero((ts_ms >= start) & (ts_ms < end))
    if len(rows) != test.rows:
        sys.exit(f"test window: {len(rows)} rows, the manifest says {test.rows}")
    result: npt.NDArray[np.float32] = features.to_numpy(dtype=np.float32)[rows]
    return result


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _top3(
    model: Model, rows: npt.NDArray[np.float32], contributions: npt.NDArray[np.float64]
) -> list[list[str]]:
    """The top-3 model codes of each row from its contributions (one column per feature)."""
    low, high = model.normal_low, model.normal_high
    return [
        [reason.code for reason in model_reasons(c, values, low, high, top=3)]
        for values, c in zip(rows, contributions, strict=True)
    ]


def _agreement(ours: list[list[str]], exact: list[list[str]]) -> tuple[float, ...]:
    """Shares of rows whose top-1 codes agree, whose top-1 is in the exact top 3 and whose
    top-3 sets are equal, and the mean overlap |A & B| / max(|A|, |B|) of the top-3 sets.
    A row without any model reason (no positive contribution) agrees with another such row."""
    pairs = list(zip(ours, exact, strict=True))
    return (
        float(np.mean([a[:1] == b[:1] for a, b in pairs])),
        float(np.mean([set(a[:1]) <= set(b) if a else not b for a, b in pairs])),
        float(np.mean([set(a) == set(b) for a, b in pairs])),
        float(
            np.mean([len({*a} & {*b}) / max(len(a), len(b)) if a or b else 1.0 for a, b in pairs])
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("model_artifacts/default"))
    args = parser.parse_args()
    model = load_model(args.model, intra_op_threads=0)
    rows = _test_window(model)
    (saabas,) = model.explainer.run([CONTRIBUTIONS_OUTPUT], {model.manifest.onnx_input: rows})
    low, high = model.normal_low, model.normal_high
    explained = [
        explained_reasons(model.shap, rows[i : i + 1], rows[i], low, high, top=3)
        for i in range(len(rows))
    ]
    ours = np.array([contributions for contributions, _ in explained])
    our_codes = [[reason.code for reason in reasons] for _, reasons in explained]
    classifier = xgb.XGBClassifier()
    classifier.load_model(args.model / XGBOOST_FILE)
    exact = classifier.get_booster().predict(
        xgb.DMatrix(rows, missing=np.nan),
        pred_contribs=True,
        iteration_range=(0, classifier.best_iteration + 1),
    )
    print(
        f"largest |service - XGBoost exact| contribution: {np.abs(ours - exact[:, :-1]).max():.3g}"
    )
    theirs = _top3(model, rows, exact[:, :-1])
    scores = model.scores(rows)
    _print_table(model.manifest, scores, "service (exact TreeSHAP)", our_codes, theirs)
    _print_table(
        model.manifest, scores, "Saabas, for reference", _top3(model, rows, saabas[:, :-1]), theirs
    )


def _print_table(
    manifest: Manifest,
    scores: npt.NDArray[np.float64],
    name: str,
    ours: list[list[str]],
    exact: list[list[str]],
) -> None:
    review_at = manifest.suggested_score_bands.review_at
    print(f"model {manifest.model_version}: top-3 model reason codes, {name} vs XGBoost exact")
    print(
        f"  {'rows':<30} {'count':>7} {'top-1 equal':>12} {'top-1 in top-3':>15} "
        f"{'top-3 equal':>12} {'top-3 overlap':>14}"
    )
    for name, keep in (
        ("test window", np.ones(len(scores), dtype=bool)),
        (f"score >= review band ({review_at:g})", scores >= review_at),
    ):
        picked = np.flatnonzero(keep)
        top1, within, sets, overlap = _agreement(
            [ours[i] for i in picked], [exact[i] for i in picked]
        )
        print(
            f"  {name:<30} {len(picked):>7} {top1:>12.3f} {within:>15.3f} "
            f"{sets:>12.3f} {overlap:>14.3f}"
        )


if __name__ == "__main__":
    main()
