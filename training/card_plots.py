"""The plots of the model card and of `riskscore model compare`, as PNG files.

Drawn from a test window (`training.metrics.EvaluationSet`) and its diagnostics
(`training.diagnostics`). A bare `Figure` renders with Agg and, unlike pyplot's, is never kept
open anywhere; the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from training.diagnostics import Importance, ReliabilityBin
from training.metrics import EvaluationSet

# Matplotlib writes its version into PNGs; without it the bytes depend only on the inputs.
_PNG_METADATA = {"Software": None}
IMPORTANCE_TOP = 20
_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:purple")


def _figure(title: str, x_label: str, y_label: str, size: tuple[float, float] = (6, 4)) -> Any:
    figure = Figure(figsize=size, dpi=120)
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", metadata=_PNG_METADATA)


def plot_roc(path: Path, data: EvaluationSet) -> None:
    fpr, tpr, _ = roc_curve(data.y_true, data.score)
    figure, axes = _figure(
        "ROC curve, test window", "false-positive rate (symlog)", "recall (true-positive rate)"
    )
    axes.plot(fpr, tpr, color="tab:blue", label="model")
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    # Fraud teams work at FPRs below 1%: stretch that end of the axis.
    axes.set_xscale("symlog", linthresh=1e-3)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.legend(loc="lower right")
    _save(figure, path)


def plot_pr(path: Path, curves: Mapping[str, EvaluationSet], title: str) -> None:
    """One precision-recall curve per named window (the same labels: its fraud rate is
    drawn from the first)."""
    figure, axes = _figure(title, "recall", "precision")
    for (label, data), colour in zip(curves.items(), _COLOURS, strict=False):
        precision, recall, _ = precision_recall_curve(data.y_true, data.score)
        axes.plot(recall, precision, color=colour, label=label)
    first = next(iter(curves.values()))
    axes.axhline(float(first.y_true.mean()), color="grey", linestyle=":", label="fraud rate")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.legend(loc="upper right")
    _save(figure, path)


def plot_scores(path: Path, data: EvaluationSet) -> None:
    figure, axes = _figure(
        "Score distribution, test window", "calibrated fraud probability", "transactions (log)"
    )
    bins = np.linspace(0, 1, 51)
    fraud = data.y_true == 1
    axes.hist(data.score[~fraud], bins=bins, color="tab:blue", alpha=0.6, label="legitimate")
    axes.hist(data.score[fraud], bins=bins, color="tab:red", alpha=0.6, label="fraud")
    axes.set_yscale("log")
    axes.set_xlim(0, 1)
    axes.legend(loc="upper right")
    _save(figure, path)


def plot_reliability(path: Path, bins: tuple[ReliabilityBin, ...]) -> None:
    """The reliability diagram: observed fraud rate against mean score per bin, on log axes
    (most scores are small), with the diagonal a calibrated model follows."""
    figure, axes = _figure(
        "Calibration (reliability), test window", "mean score in bin", "observed fraud rate"
    )
    means = np.array([b.mean_score for b in bins])
    rates = np.array([b.fraud_rate for b in bins])
    low = max(1e-5, float(min(means.min(), rates[rates > 0].min(initial=1.0))) / 2)
    axes.plot([low, 1], [low, 1], color="grey", linestyle=":", label="calibrated")
    # A bin without fraud has no place on a log axis: draw it at the bottom edge.
    axes.plot(means, np.maximum(rates, low), color="tab:red", marker="o", label="model")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(low, 1)
    axes.set_ylim(low, 1)
    axes.legend(loc="upper left")
    _save(figure, path)


def plot_importance(path: Path, importance: Importance) -> None:
    """The top features by gain share, beside their mean absolute attribution."""
    order = np.argsort(-importance.gain_share, kind="stable")[:IMPORTANCE_TOP][::-1]
    names = [importance.names[i] for i in order]
    figure = Figure(figsize=(9, 0.28 * len(names) + 1.4), dpi=120)
    gain_axes, attribution_axes = figure.subplots(1, 2, sharey=True)
    positions = np.arange(len(names))
    gain_axes.barh(positions, importance.gain_share[order], color="tab:blue")
    gain_axes.set_yticks(positions, names, fontsize=7)
    gain_axes.set_xlabel("share of total gain")
    attribution_axes.barh(positions, importance.mean_abs_attribution[order], color="tab:orange")
    attribution_axes.set_xlabel("mean |attribution|, test window (log-odds)")
    figure.suptitle(f"Feature importance, top {len(names)} by gain")
    _save(figure, path)
