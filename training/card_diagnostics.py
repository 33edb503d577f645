"""The model card's sections on feature importance, calibration and fraud typologies, and on
how the model was configured and tuned.

Called by `training.model_card.render_card`; the numbers come from `training.diagnostics`
and the manifest's `training_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from training.diagnostics import TYPOLOGY_REVIEW_RATE, Diagnostics

IMPORTANCE_PNG = "feature_importance.png"
CALIBRATION_PNG = "calibration.png"
IMPORTANCE_ROWS = 20


def importance_section(diagnostics: Diagnostics | None) -> str:
    if diagnostics is None:
        return "## Feature importance\n\nNone recorded.\n"
    importance = diagnostics.importance
    order = np.argsort(-importance.gain_share, kind="stable")[:IMPORTANCE_ROWS]
    rows = "".join(
        f"| {rank} | `{importance.names[i]}` | {importance.gain_share[i]:.4f} | "
        f"{importance.mean_abs_attribution[i]:.4f} |\n"
        for rank, i in enumerate(order, start=1)
    )
    unused = int((importance.gain_share == 0).sum())
    return (
        "## Feature importance\n\n"
        "Gain: each feature's share of the total loss reduction of the splits on it, in the "
        "trees the model predicts with. Attribution: the mean absolute contribution of the "
        "feature to the margin (log-odds) over the test window, as the reason codes see it. "
        f"Top {len(order)} by gain; {unused} of the {len(importance.names)} features are "
        "never split on.\n\n"
        f"![Feature importance]({IMPORTANCE_PNG})\n\n"
        "| rank | feature | gain share | mean abs attribution |\n|---|---|---|---|\n" + rows
    )


def reliability_section(diagnostics: Diagnostics | None) -> str:
    if diagnostics is None:
        return "## Reliability\n\nNone recorded.\n"
    rows = "".join(
        f"| [{b.low:g}, {b.high:g}{']' if b.high == 1 else ')'} | {b.rows} | "
        f"{b.mean_score:.3g} | {b.fraud_rate:.3g} |\n"
        for b in diagnostics.reliability
    )
    return (
        "## Reliability\n\n"
        "The test window's transactions binned by score: where the scores are probabilities, "
        "each bin's fraud rate is its mean score (the diagonal of the plot). "
        "Expected calibration error (mean |fraud rate - mean score|, weighted by rows): "
        f"{diagnostics.expected_calibration_error:.5f}.\n\n"
        f"![Reliability diagram]({CALIBRATION_PNG})\n\n"
        "| scores | transactions | mean score | fraud rate |\n|---|---|---|---|\n" + rows
    )


def typology_section(diagnostics: Diagnostics | None) -> str:
    if diagnostics is None or not diagnostics.typologies:
        return (
            "## Fraud typologies\n\nThe history names no typology (no `fraud_scenario` "
            "column), so there is no recall per typology.\n"
        )
    rate = f"{TYPOLOGY_REVIEW_RATE * 100:g}%"
    rows = "".join(
        f"| {t.typology} | {t.frauds} | {t.recall_at_review_band:.4f} | "
        f"{t.recall_at_review_rate:.4f} |\n"
        for t in diagnostics.typologies
    )
    return (
        "## Fraud typologies\n\n"
        f"Recall of each typology's fraud on the test window: at the review band (score from "
        f"{diagnostics.review_at:g}) and in the top {rate} of all transactions by score.\n\n"
        f"| typology | fraud | recall at review band | recall at review rate {rate} |\n"
        "|---|---|---|---|\n" + rows
    )


def config_section(config: Mapping[str, Any]) -> str:
    """Where the settings came from and, when tuned, what the search found."""
    if not config:
        return ""
    source = config.get("source")
    origin = f"the config file `{source}` (sha256 `{config.get('sha256')}`)" if source else None
    lines = [
        "\nSettings: the defaults"
        + (f", {origin}" if origin else "")
        + " and the command line; the manifest's `training_config` records them all."
    ]
    windows = (config.get("settings") or {}).get("windows") or {}
    if windows:
        shown = ", ".join(f"{name} {day}" for name, day in windows.items())
        lines.append(f"Windows set by date ({shown}, whole UTC days).")
    tuning = config.get("tuning")
    if isinstance(tuning, Mapping):
        validation = tuning.get("validation") or {}
        trials, minutes = tuning.get("trials_budget"), tuning.get("minutes_budget")
        limits = [f"{trials} trials" if trials else "", f"{minutes:g} minutes" if minutes else ""]
        budget = " or ".join(limit for limit in limits if limit)
        searched = ", ".join(f"`{k}` {v:.4g}" for k, v in (tuning.get("searched") or {}).items())
        lines.append(
            f"\nTuned: {tuning.get('trials')} trials (Optuna TPE, seed {tuning.get('seed')}; "
            f"budget {budget}) scored by {tuning.get('metric')} on the last part of the training "
            f"window ({validation.get('start')} to {validation.get('end')}, "
            f"{validation.get('rows')} transactions, {validation.get('frauds')} fraud): "
            f"{float(tuning.get('best_value', 0)):.4f} against "
            f"{float(tuning.get('start_value', 0)):.4f} for the starting parameters. "
            + (f"Chosen: {searched}." if searched else "The starting parameters won.")
        )
    return "\n".join(lines) + "\n"
