"""The model card: what the model is for, what it learnt from, how well it does, with plots.

Written into the artifact folder by `training.pipeline`: `MODEL_CARD.md`, `roc_curve.png`,
`precision_recall_curve.png` and `score_distribution.png`. Same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from training.metrics import EvaluationSet

ROC_PNG = "roc_curve.png"
PR_PNG = "precision_recall_curve.png"
SCORES_PNG = "score_distribution.png"
_PNG_METADATA = {"Software": None}


def write_model_card(out_dir: Path, manifest: Mapping[str, Any], evaluation: EvaluationSet) -> Path:
    """Write the card and its three plots for the test window `evaluation`; returns the card."""
    _plot_roc(out_dir / ROC_PNG, evaluation)
    _plot_pr(out_dir / PR_PNG, evaluation)
    _plot_scores(out_dir / SCORES_PNG, evaluation)
    path = out_dir / "MODEL_CARD.md"
    path.write_text(render_card(manifest, evaluation))
    return path


def _figure(title: str, x_label: str, y_label: str) -> tuple[Figure, Any]:
    figure = Figure(figsize=(6, 4), dpi=120)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _plot_roc(path: Path, data: EvaluationSet) -> None:
    fpr, tpr, _ = roc_curve(data.y_true, data.score)
    figure, axes = _figure("ROC curve, test window", "false-positive rate", "recall")
    axes.plot(fpr, tpr, color="tab:blue")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    axes.set_xscale("symlog", linthresh=1e-3)
    axes.set_xlim(0, 1)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, metadata=_PNG_METADATA)


def _plot_pr(path: Path, data: EvaluationSet) -> None:
    precision, recall, _ = precision_recall_curve(data.y_true, data.score)
    figure, axes = _figure("Precision-recall curve, test window", "recall", "precision")
    axes.plot(recall, precision, color="tab:red")
    axes.axhline(data.y_true.mean(), color="grey", linestyle=":", label="fraud rate")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, metadata=_PNG_METADATA)


def _plot_scores(path: Path, data: EvaluationSet) -> None:
    figure, axes = _figure("Score distribution, test window", "calibrated score", "transactions")
    bins = np.linspace(0, 1, 51)
    fraud = data.y_true == 1
    axes.hist(data.score[~fraud], bins=bins, color="tab:blue", alpha=0.6, label="legitimate")
    axes.hist(data.score[fraud], bins=bins, color="tab:red", alpha=0.6, label="fraud")
    axes.set_yscale("log")
    axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path, metadata=_PNG_METADATA)


def render_card(manifest: Mapping[str, Any], data: EvaluationSet) -> str:
    """The markdown of the card (plots are linked by file name)."""
    sections = [
        _intro(manifest),
        _data_section(manifest),
        _metrics_section(manifest.get("metrics", {}).get("test", {})),
        f"![ROC curve]({ROC_PNG})\n\n![Precision-recall curve]({PR_PNG})\n\n"
        f"![Score distribution]({SCORES_PNG})\n",
        _bands_section(manifest.get("suggested_score_bands", {}), data),
        _calibration_section(manifest),
        _limitations(),
        "## Features\n\n" + ", ".join(f"`{name}`" for name in manifest.get("features", [])) + "\n",
    ]
    return "\n".join(sections)


def _intro(manifest: Mapping[str, Any]) -> str:
    return (
        f"# Model card: {manifest.get('model_version', '?')}\n\n"
        f"Feature set `{manifest.get('feature_set_version', '?')}`, created "
        f"{manifest.get('created_at', '?')}, best iteration {manifest.get('best_iteration', '?')}."
        "\n\n## Intended use\n\nScores card payments (card-not-present and card-present) in "
        "riskscore: the probability that a transaction is fraudulent, used with policy rules "
        "to approve, review, challenge or decline. Not for credit or any decision about a "
        "person beyond the payment in front of it.\n"
    )


def _data_section(manifest: Mapping[str, Any]) -> str:
    data = manifest.get("training_data", {})
    lines = [
        "## Training data\n",
        f"{data.get('rows', '?')} transactions, {data.get('frauds', '?')} fraud, from "
        f"{data.get('start', '?')} to {data.get('end', '?')}; fingerprint "
        f"`{str(data.get('fingerprint', '?'))[:16]}…`.\n",
        "| window | from | to | transactions | fraud |",
        "|---|---|---|---|---|",
    ]
    for name, window in manifest.get("split", {}).items():
        lines.append(
            f"| {name} | {window.get('start')} | {window.get('end')} | {window.get('rows')} | "
            f"{window.get('frauds')} |"
        )
    lines.append(
        f"\nA gap of {manifest.get('gap_days', '?')} days lies between validation and test: the "
        "labels of the last days before training are not known yet in real life.\n"
    )
    return "\n".join(lines)


def _metrics_section(metrics: Mapping[str, Any]) -> str:
    if not metrics:
        return "## Metrics\n\nNo test metrics recorded.\n"
    k = metrics.get("card_precision_at_k_k", 100)
    rows = [
        ("ROC AUC", metrics.get("roc_auc"), "ranking of fraud above legitimate"),
        ("Average precision", metrics.get("average_precision"), "area under precision-recall"),
        (f"Card precision@{k}", metrics.get("card_precision_at_k"), "daily top cards defrauded"),
    ]
    rows += [
        (f"Recall at FPR {p}", v, "fraud caught at that false-positive rate")
        for p, v in metrics.get("recall_at_fpr", {}).items()
    ]
    rows += [
        (f"Recall at review rate {r}", v, "fraud among the top-scored share")
        for r, v in metrics.get("recall_at_review_rate", {}).items()
    ]
    rows += [
        (f"Amount recall at review rate {r}", v, "fraud amount among the top-scored share")
        for r, v in metrics.get("amount_recall_at_review_rate", {}).items()
    ]
    table = "\n".join(f"| {name} | {_number(value)} | {meaning} |" for name, value, meaning in rows)
    return (
        "## Metrics on the test window\n\n"
        f"{metrics.get('transactions')} transactions, {metrics.get('frauds')} fraud "
        f"({_number(metrics.get('fraud_rate'))}).\n\n"
        "| metric | value | meaning |\n|---|---|---|\n" + table + "\n"
    )


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _bands_section(bands: Mapping[str, float], data: EvaluationSet) -> str:
    if not bands:
        return ""
    edges = [
        ("approve", -np.inf, bands["review_at"]),
        ("review", bands["review_at"], bands["challenge_at"]),
        ("challenge", bands["challenge_at"], bands["decline_at"]),
        ("decline", bands["decline_at"], np.inf),
    ]
    frauds = max(int(data.y_true.sum()), 1)
    lines = [
        "## Suggested score bands\n",
        f"`review_at` {bands['review_at']}, `challenge_at` {bands['challenge_at']}, "
        f"`decline_at` {bands['decline_at']}: calibrated fraud probabilities at which a review, "
        "a challenge and a decline pay. On the test window:\n",
        "| band | share of transactions | share of fraud |",
        "|---|---|---|",
    ]
    for name, low, high in edges:
        inside = (data.score >= low) & (data.score < high)
        caught = int(data.y_true[inside].sum())
        lines.append(f"| {name} | {inside.mean():.4f} | {caught / frauds:.4f} |")
    return "\n".join(lines) + "\n"


def _calibration_section(manifest: Mapping[str, Any]) -> str:
    calibration = manifest.get("calibration", {})
    parity = manifest.get("parity", {})
    return (
        "## Calibration and ONNX parity\n\n"
        f"Scores are calibrated probabilities: Platt scaling of the model's margin fitted on the "
        f"validation window (slope {_number(calibration.get('slope'))}, intercept "
        f"{_number(calibration.get('intercept'))}).\n\n"
        f"The ONNX model agrees with XGBoost within {parity.get('max_abs_diff', '?')} on "
        f"{parity.get('rows', '?')} test rows (tolerance {parity.get('tolerance', '?')}).\n"
    )


def _limitations() -> str:
    return (
        "## Limitations\n\n"
        "* It knows only the history it was trained on; a simulated history (as for the "
        "default model) teaches the simulator's typologies, not your traffic. Retrain on yours.\n"
        "* Fraud changes: watch the score distribution and the metrics on fresh labels, and "
        "retrain when they drift.\n"
        "* Labels arrive late (chargebacks take weeks): the newest days of any window are "
        "under-labelled, which the gap before the test window only partly accounts for.\n"
    )
