"""The model card's sections on what training checked: calibration and ONNX parity, the
attributions' parity, and the parity sample the service re-runs at load.

Called by `training.model_card.render_card` with the manifest's records of those checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.manifest import PARITY_SAMPLE_FILE


def shown(value: object, spec: str = ".4f") -> str:
    """A manifest value as the card shows it: floats to `spec`, a missing one as ?."""
    if isinstance(value, float):
        return format(value, spec)
    return "?" if value is None else str(value)


def calibration_section(calibration: Mapping[str, Any], parity: Mapping[str, Any]) -> str:
    return (
        "## Calibration and ONNX parity\n\n"
        "Scores are calibrated fraud probabilities: "
        f"{str(calibration.get('method', '?')).capitalize()} scaling of the model's margin, "
        f"fitted on the validation window (slope {shown(calibration.get('slope'))}, "
        f"intercept {shown(calibration.get('intercept'))}). They hold at the validation "
        "window's fraud rate: when the live fraud rate moves, the probabilities move with it "
        "while the ranking holds.\n\n"
        "The ONNX model the service runs agrees with the XGBoost model within "
        f"{shown(parity.get('max_abs_diff'), '.2g')} (largest absolute difference in "
        f"probability) on {shown(parity.get('rows'))} test rows; the tolerance is "
        f"{shown(parity.get('tolerance'), '.2g')}.\n"
    )


def attributions_section(attributions: Mapping[str, Any]) -> str:
    if not attributions:
        return "## Attributions\n\nNone recorded.\n"
    return (
        "## Attributions\n\n"
        "Decisions at or above the review band are explained by exact TreeSHAP (XGBoost's "
        "`pred_contribs`), compiled from `model.json` when the service loads the model: its "
        "contributions give the model reason codes. `attributions.onnx` holds Saabas path "
        "attributions (XGBoost's `approx_contribs`) for offline comparisons; they agree with "
        "XGBoost's within "
        f"{shown(attributions.get('max_abs_diff'), '.2g')}, their sums with its margin "
        f"within {shown(attributions.get('max_margin_diff'), '.2g')}, on "
        f"{shown(attributions.get('rows'))} test rows; the tolerance is "
        f"{shown(attributions.get('tolerance'), '.2g')}.\n"
    )


def parity_sample_section(sample: Mapping[str, Any]) -> str:
    if not sample:
        return "## Parity sample\n\nNone recorded.\n"
    return (
        "## Parity sample\n\n"
        f"`{PARITY_SAMPLE_FILE}` holds {shown(sample.get('rows'))} feature rows and XGBoost's "
        f"margin, calibrated score and attributions for each: "
        f"{shown(sample.get('constructed'))} constructed (values missing, zero, extreme, or "
        "at a split's threshold), the rest from the test window, some with values removed. "
        f"They reach {shown(sample.get('leaves_reached'))} of the "
        f"{shown(sample.get('leaves'))} leaves of the trees. The service runs them "
        "through both ONNX graphs whenever it loads the model and refuses the artifact if "
        "any output differs beyond tolerance, so an edited leaf cannot be served.\n"
    )
