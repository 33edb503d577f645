"""The report of `riskscore model compare`: a markdown table of both models' metrics, their
notes, and a precision-recall chart of both (`training.compare` computes what it shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.card_plots import plot_pr
from training.compare import CARD_K, REVIEW_RATES, Comparison, Scored

REPORT_FILE = "comparison.md"
PR_CHART = "precision_recall.png"


def metric_rows(comparison: Comparison) -> list[tuple[str, float, float]]:
    """(metric, model A's value, model B's value) in the report's order."""
    first, second = comparison.first.metrics, comparison.second.metrics

    def pick(metrics: dict[str, Any], key: str, point: str | None = None) -> float:
        value = metrics[key] if point is None else metrics[key][point]
        return float(value)

    rows = [
        ("ROC AUC", pick(first, "roc_auc"), pick(second, "roc_auc")),
        ("Average precision", pick(first, "average_precision"), pick(second, "average_precision")),
    ]
    for rate in REVIEW_RATES:
        key, point = "recall_at_review_rate", str(rate)
        rows.append(
            (
                f"Recall at review rate {rate * 100:g}%",
                pick(first, key, point),
                pick(second, key, point),
            )
        )
    rows.append(
        (
            f"Card precision@{CARD_K}",
            pick(first, "card_precision_at_k"),
            pick(second, "card_precision_at_k"),
        )
    )
    return rows


def render_table(comparison: Comparison) -> str:
    """The metrics as a markdown table: A, B and B - A."""
    lines = [
        f"| metric | A: {_version(comparison.first)} | B: {_version(comparison.second)} | B - A |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {a:.4f} | {b:.4f} | {b - a:+.4f} |" for name, a, b in metric_rows(comparison)
    ]
    return "\n".join(lines) + "\n"


def write_report(comparison: Comparison, out_dir: Path) -> Path:
    """Write the markdown report and the chart into `out_dir`; return the report's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = {
        f"{s.label}: {_version(s)}": s.evaluation for s in (comparison.first, comparison.second)
    }
    plot_pr(out_dir / PR_CHART, curves, "Precision-recall, the same window")
    path = out_dir / REPORT_FILE
    path.write_text(render_report(comparison), encoding="utf-8")
    return path


def render_report(comparison: Comparison) -> str:
    start, end = comparison.window
    models = "\n".join(_model_line(s) for s in (comparison.first, comparison.second))
    return (
        f"# Model comparison: {_version(comparison.first)} and {_version(comparison.second)}\n\n"
        f"Both scored on the same {comparison.transactions} transactions "
        f"({comparison.frauds} fraud), from {start} to {end}, with the ONNX model and "
        "calibration each serves.\n\n"
        f"{models}\n\n"
        "## Metrics\n\n"
        f"{render_table(comparison)}\n"
        "Recall at review rate: the share of fraud among the top-scored share of all "
        f"transactions. Card precision@{CARD_K}: each day, the defrauded share of the "
        f"{CARD_K} cards with the highest score that day (leaving out cards caught on an earlier "
        "day), averaged over the days.\n\n"
        f"![Precision-recall of both]({PR_CHART})\n"
    )


def _model_line(scored: Scored) -> str:
    manifest = scored.model.manifest
    notes = "".join(f"\n  - note: {note}" for note in scored.notes)
    return (
        f"- **{scored.label}**: `{scored.model.directory}`, {manifest.model_version}, feature set "
        f"{manifest.feature_set_version} ({len(manifest.features)} features), trained on "
        f"{manifest.training_data.start} to {manifest.training_data.end}{notes}"
    )


def _version(scored: Scored) -> str:
    return scored.model.manifest.model_version
