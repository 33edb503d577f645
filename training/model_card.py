"""The model card: what the model is for, what it learnt from, how well it does, with plots.

Last step of the offline flow: `training.pipeline` calls `write_model_card` on the artifact
folder with the manifest and the test window. Same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from model.manifest import MODEL_CARD_FILE
from training.card_checks import (
    attributions_section,
    calibration_section,
    parity_sample_section,
    shown,
)
from training.card_diagnostics import (
    CALIBRATION_PNG,
    IMPORTANCE_PNG,
    config_section,
    importance_section,
    reliability_section,
    typology_section,
)
from training.card_plots import (
    plot_importance,
    plot_pr,
    plot_reliability,
    plot_roc,
    plot_scores,
)
from training.diagnostics import Diagnostics
from training.metrics import EvaluationSet, evaluate

ROC_PNG = "roc_curve.png"
PR_PNG = "precision_recall_curve.png"
SCORES_PNG = "score_distribution.png"
BAND_NAMES = ("approve", "review", "challenge", "decline")
_BAND_KEYS = ("review_at", "challenge_at", "decline_at")


def write_model_card(
    out_dir: Path,
    manifest: Mapping[str, object],
    evaluation: EvaluationSet,
    diagnostics: Diagnostics | None = None,
) -> Path:
    """Write `MODEL_CARD.md` and its plots into `out_dir`; return the card's path.

    `manifest` is the artifact manifest as plain data (missing keys show as "?");
    `evaluation` is the test window, from which the plots and the score bands are drawn;
    `diagnostics` (of the same window) add feature importance, reliability and typologies.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_roc(out_dir / ROC_PNG, evaluation)
    plot_pr(out_dir / PR_PNG, {"model": evaluation}, "Precision-recall curve, test window")
    plot_scores(out_dir / SCORES_PNG, evaluation)
    if diagnostics is not None:
        plot_reliability(out_dir / CALIBRATION_PNG, diagnostics.reliability)
        plot_importance(out_dir / IMPORTANCE_PNG, diagnostics.importance)
    path = out_dir / MODEL_CARD_FILE
    path.write_text(render_card(manifest, evaluation, diagnostics), encoding="utf-8")
    return path


# The markdown, one builder per section.


def render_card(
    manifest: Mapping[str, object], data: EvaluationSet, diagnostics: Diagnostics | None = None
) -> str:
    """The card's markdown; plots are linked by file name, relative to the card."""
    sections = [
        _intro(manifest),
        _data_section(manifest),
        _metrics_section(_test_metrics(manifest, data)),
        typology_section(diagnostics),
        _plots_section(),
        _bands_section(_mapping(manifest.get("suggested_score_bands")), data),
        calibration_section(
            _mapping(manifest.get("calibration")), _mapping(manifest.get("parity"))
        ),
        reliability_section(diagnostics),
        importance_section(diagnostics),
        attributions_section(_mapping(manifest.get("attributions"))),
        parity_sample_section(_mapping(manifest.get("parity_sample"))),
        _training_section(manifest),
        _limitations(),
        _features_section(manifest.get("features")),
    ]
    return "\n".join(sections)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _test_metrics(manifest: Mapping[str, object], data: EvaluationSet) -> Mapping[str, Any]:
    """The manifest's test metrics (`metrics.test`, or `metrics` itself when it is one
    window's), else computed from `data`."""
    metrics = _mapping(manifest.get("metrics"))
    if isinstance(metrics.get("test"), Mapping):
        return _mapping(metrics["test"])
    return metrics if "roc_auc" in metrics else evaluate(data)


def _percent(point: str) -> str:
    # "0.005" -> "0.5%"; keys that are not numbers stay as they are.
    try:
        return f"{float(point) * 100:g}%"
    except ValueError:
        return point


def _intro(manifest: Mapping[str, object]) -> str:
    return (
        f"# Model card: {shown(manifest.get('model_version'))}\n\n"
        f"Feature set `{shown(manifest.get('feature_set_version'))}`, "
        f"created {shown(manifest.get('created_at'))}.\n\n"
        "## Intended use\n\n"
        "Scores card-not-present and card-present payments in riskscore: the probability "
        "that a transaction is fraudulent, which policy rules turn into approve, review, "
        "challenge or decline. Not for credit decisions, nor any decision about a person "
        "beyond the payment in front of it.\n"
    )


def _data_section(manifest: Mapping[str, object]) -> str:
    data = _mapping(manifest.get("training_data"))
    lines = [
        "## Training data and time split\n",
        f"{shown(data.get('rows'))} transactions, {shown(data.get('frauds'))} fraud, from "
        f"{shown(data.get('start'))} to {shown(data.get('end'))}; history fingerprint "
        f"`{shown(data.get('fingerprint'))}`.\n",
        "| window | from | to | transactions | fraud |",
        "|---|---|---|---|---|",
    ]
    for name, window in _mapping(manifest.get("split")).items():
        w = _mapping(window)
        lines.append(
            f"| {name} | {shown(w.get('start'))} | {shown(w.get('end'))} | "
            f"{shown(w.get('rows'))} | {shown(w.get('frauds'))} |"
        )
    if "gap_days" in manifest:
        lines.append(
            f"\nA gap of {manifest['gap_days']} days lies before the test window: when a model "
            "is trained, the labels of the last days are not known yet."
        )
    return "\n".join(lines) + "\n"


def _metric_rows(metrics: Mapping[str, Any]) -> list[tuple[str, object, str]]:
    k = metrics.get("card_precision_at_k_k", "k")
    rows: list[tuple[str, object, str]] = [
        ("ROC AUC", metrics.get("roc_auc"), "chance a random fraud outscores a random legitimate"),
        ("Average precision", metrics.get("average_precision"), "area under precision-recall"),
    ]
    rows += [
        (f"Recall at FPR {_percent(p)}", v, f"fraud caught flagging {_percent(p)} of legitimate")
        for p, v in _mapping(metrics.get("recall_at_fpr")).items()
    ]
    rows += [
        (f"Recall at review rate {_percent(r)}", v, f"fraud in the top {_percent(r)} by score")
        for r, v in _mapping(metrics.get("recall_at_review_rate")).items()
    ]
    rows += [
        (f"Amount recall at review rate {_percent(r)}", v, "fraud USD in that top share")
        for r, v in _mapping(metrics.get("amount_recall_at_review_rate")).items()
    ]
    rows.append(
        (
            f"Card precision@{k}",
            metrics.get("card_precision_at_k"),
            f"defrauded share of each day's {k} top cards not yet caught, mean over days",
        )
    )
    return rows


def _metrics_section(metrics: Mapping[str, Any]) -> str:
    table = "\n".join(
        f"| {name} | {shown(value)} | {meaning} |" for name, value, meaning in _metric_rows(metrics)
    )
    return (
        "## Metrics on the test window\n\n"
        f"{shown(metrics.get('transactions'))} transactions, "
        f"{shown(metrics.get('frauds'))} fraud (rate {shown(metrics.get('fraud_rate'))}). "
        "Card precision cannot exceed the day's defrauded cards divided by k.\n\n"
        "| metric | value | meaning |\n|---|---|---|\n" + table + "\n"
    )


def _plots_section() -> str:
    return (
        "## Plots\n\n"
        f"![ROC curve]({ROC_PNG})\n\n"
        f"![Precision-recall curve]({PR_PNG})\n\n"
        f"![Score distribution]({SCORES_PNG})\n"
    )


def _band_rows(thresholds: list[float], data: EvaluationSet) -> list[str]:
    edges = [-np.inf, *thresholds, np.inf]
    frauds = int(data.y_true.sum())
    rows = []
    for name, low, high in zip(BAND_NAMES, edges[:-1], edges[1:], strict=True):
        inside = (data.score >= low) & (data.score < high)
        caught = int(data.y_true[inside].sum())
        recall = f"{caught / frauds:.4f}" if frauds else "?"
        scores = f"[{max(low, 0.0):g}, {min(high, 1.0):g}{']' if high == np.inf else ')'}"
        rows.append(f"| {name} | {scores} | {inside.mean():.4f} | {caught} | {recall} |")
    return rows


def _bands_section(bands: Mapping[str, Any], data: EvaluationSet) -> str:
    if not all(isinstance(bands.get(key), int | float) for key in _BAND_KEYS):
        return "## Suggested score bands\n\nNone recorded.\n"
    thresholds = [float(bands[key]) for key in _BAND_KEYS]
    lines = [
        "## Suggested score bands\n",
        ", ".join(f"`{key}` {value:g}" for key, value in zip(_BAND_KEYS, thresholds, strict=True))
        + ": calibrated fraud probabilities from which a review, a challenge and a decline pay "
        "(the policy file sets the bands in force). On the test window:\n",
        "| band | scores | share of transactions | fraud | fraud recall |",
        "|---|---|---|---|---|",
        *_band_rows(thresholds, data),
    ]
    return "\n".join(lines) + "\n"


def _training_section(manifest: Mapping[str, object]) -> str:
    parameters = _mapping(manifest.get("parameters"))
    rows = "".join(f"| `{name}` | {value} |\n" for name, value in parameters.items())
    table = f"\n| parameter | value |\n|---|---|\n{rows}" if rows else ""
    return (
        "## Training\n\n"
        f"XGBoost, best iteration {shown(manifest.get('best_iteration'))} (early stopping "
        f"on the validation window).\n"
        f"{config_section(_mapping(manifest.get('training_config')))}{table}"
    )


def _limitations() -> str:
    return (
        "## Limitations\n\n"
        "* It knows only the history it was trained on. A simulated history (as for the "
        "default model) teaches the simulator's fraud typologies, not your traffic: its "
        "metrics describe the simulator. Retrain on your own history.\n"
        "* Fraud and customers drift: watch the score distribution and the metrics on fresh "
        "labels, and retrain when they move.\n"
        "* Labels arrive late (chargebacks take weeks): the newest days of any window are "
        "under-labelled, which the gap before the test window only partly accounts for.\n"
    )


def _features_section(features: object) -> str:
    names = features if isinstance(features, list) else []
    if not names:
        return "## Features\n\nNone recorded.\n"
    listed = "\n".join(f"{i}. `{name}`" for i, name in enumerate(names, start=1))
    return f"## Features\n\nIn the model's input order.\n\n{listed}\n"
