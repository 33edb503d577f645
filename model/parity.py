"""The parity sample: feature rows and what XGBoost computed for them at export, re-run at load.

training (`training/parity_sample.py`) -> `parity_sample.npz` -> `load_model` runs the rows
through `model.onnx` and `attributions.onnx` -> refused beyond the tolerances below, naming
the graph file and its worst row. Training runs the same check before it writes an artifact.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from model.calibration import calibrate, margins_from_probabilities
from model.errors import ModelArtifactError
from model.manifest import (
    ATTRIBUTIONS_FILE,
    CONTRIBUTIONS_OUTPUT,
    ONNX_FILE,
    PARITY_SAMPLE_FILE,
    PROBABILITIES_OUTPUT,
    Manifest,
)
from model.treeshap import TreeShap

# Log-odds: a margin (XGBoost's, against bias + contributions or against the margin recovered
# from a graph's probability) and each contribution. Export checks the test window with it too.
MARGIN_TOLERANCE = 1e-4
# A graph's probability is also allowed this much error in absolute terms: ONNX Runtime's
# float32 logistic is exact to about 1e-7 absolute, not relative, so far from 0.5 a margin
# recovered from it is worth less (this error is 1e-6 / (p * (1 - p)) in log-odds).
PROBABILITY_TOLERANCE = 1e-6
# The calibrated score, from the margin recovered as the service recovers it.
SCORE_TOLERANCE = 1e-5

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ParitySample:
    """Rows in manifest order (NaN where missing) and XGBoost's outputs for each.

    `margin` is XGBoost's `output_margin`, `score` its calibration by the manifest,
    `contributions` its `approx_contribs` (one column per feature, then the bias).
    """

    features: npt.NDArray[np.float32]
    margin: npt.NDArray[np.float32]
    score: Floats
    contributions: npt.NDArray[np.float32]


_DTYPES = {
    "features": np.float32,
    "margin": np.float32,
    "score": np.float64,
    "contributions": np.float32,
}


def save_parity_sample(sample: ParitySample, path: Path) -> None:
    """Write the sample as an `.npz` of plain arrays (read without pickle). Uncompressed: it
    reads in a third of the time, at twice the size (about 280 kB for the default model)."""
    with path.open("wb") as handle:
        np.savez(handle, **{name: getattr(sample, name) for name in _DTYPES})


def read_parity_sample(path: Path, content: bytes, features: int) -> ParitySample:
    """Parse a sample's bytes (already hash-checked); `path` is for messages."""
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelArtifactError(f"{path}: not a parity sample (.npz of arrays): {exc}") from exc
    if set(arrays) != set(_DTYPES):
        raise ModelArtifactError(
            f"{path}: holds arrays {sorted(arrays)}, expected {sorted(_DTYPES)}"
        )
    rows = len(arrays["features"])
    shapes = {
        "features": (rows, features),
        "margin": (rows,),
        "score": (rows,),
        "contributions": (rows, features + 1),
    }
    for name, dtype in _DTYPES.items():
        array = arrays[name]
        if array.dtype != dtype or array.shape != shapes[name]:
            raise ModelArtifactError(
                f"{path}: array {name!r} is {array.dtype} {array.shape}, expected "
                f"{np.dtype(dtype)} {shapes[name]}"
            )
        if name != "features" and not np.isfinite(array).all():
            raise ModelArtifactError(f"{path}: array {name!r} holds a value that is not finite")
    if not rows:
        raise ModelArtifactError(f"{path}: holds no rows")
    return ParitySample(**arrays)


def check_graphs(
    directory: Path,
    manifest: Manifest,
    sample: ParitySample,
    classifier: ort.InferenceSession,
    explainer: ort.InferenceSession,
) -> None:
    """Raise `ModelArtifactError` unless both graphs give the sample's outputs.

    `model.onnx` and `attributions.onnx`: the margin recovered from the probability and the
    calibrated score; `attributions.onnx`: each contribution and the bias, and their sum.
    """
    feed = {manifest.onnx_input: sample.features}
    rows = len(sample.features)
    path = directory / ONNX_FILE
    probabilities = _output(path, classifier.run([PROBABILITIES_OUTPUT], feed)[0], (rows, 2))
    _check_probabilities(path, manifest, sample, probabilities)
    path = directory / ATTRIBUTIONS_FILE
    probabilities, contributions = explainer.run([PROBABILITIES_OUTPUT, CONTRIBUTIONS_OUTPUT], feed)
    _check_probabilities(path, manifest, sample, _output(path, probabilities, (rows, 2)))
    got = _output(path, contributions, sample.contributions.shape)
    expected = sample.contributions.astype(np.float64)
    row, column = _worst(got, expected, np.full(got.shape, MARGIN_TOLERANCE))
    if row is not None:
        names = [*manifest.features, "bias"]
        what = f"the contribution of {names[column]}" if column < len(names) - 1 else "the bias"
        _refuse(path, row, what, got[row, column], expected[row, column], MARGIN_TOLERANCE)
    margins = sample.margin.astype(np.float64)
    sums = got.sum(axis=1)
    row, _ = _worst(sums, margins, np.full(sums.shape, MARGIN_TOLERANCE))
    if row is not None:
        what = "bias + contributions"
        _refuse(path, row, what, sums[row], margins[row], MARGIN_TOLERANCE)


def _output(path: Path, values: Any, shape: tuple[int, ...]) -> Floats:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape:
        raise ModelArtifactError(
            f"{path}: gives an output of shape {array.shape} for {PARITY_SAMPLE_FILE}, "
            f"expected {shape}"
        )
    return array


def _sigmoid(margin: Floats) -> Floats:
    result: Floats = 0.5 * (1.0 + np.tanh(0.5 * margin))  # no overflow for any margin
    return result


def _check_probabilities(
    path: Path, manifest: Manifest, sample: ParitySample, probabilities: Floats
) -> None:
    got = margins_from_probabilities(probabilities[:, 1])
    # What the service can recover of XGBoost's margin (the same clip at 0 and 1).
    expected = margins_from_probabilities(_sigmoid(sample.margin.astype(np.float64)))
    p = _sigmoid(expected)
    allowed = MARGIN_TOLERANCE + PROBABILITY_TOLERANCE / (p * (1.0 - p))
    row, _ = _worst(got, expected, allowed)
    if row is not None:
        _refuse(path, row, "the margin", got[row], expected[row], allowed[row])
    scores = calibrate(manifest.calibration, got)
    row, _ = _worst(scores, sample.score, np.full(scores.shape, SCORE_TOLERANCE))
    if row is not None:
        what = "the calibrated score"
        _refuse(path, row, what, scores[row], sample.score[row], SCORE_TOLERANCE)


def _worst(got: Floats, expected: Floats, allowed: Floats) -> tuple[int | None, int]:
    """(row, column) of the largest difference relative to what is allowed, or None if none
    exceeds it. A NaN (a graph can be edited to give one) counts as exceeding."""
    with np.errstate(invalid="ignore", over="ignore"):  # an edited graph may give inf
        off = np.abs(got - expected) / allowed
    off = np.where(np.isnan(off), np.inf, off)
    index = np.unravel_index(int(np.argmax(off)), off.shape)
    if not off[index] > 1.0:
        return None, 0
    return int(index[0]), int(index[1]) if len(index) > 1 else 0


def _refuse(
    path: Path, row: int, what: str, got: float, expected: float, allowed: float
) -> NoReturn:
    raise ModelArtifactError(
        f"{path}: disagrees with {PARITY_SAMPLE_FILE}, worst at row {row}: {what} is "
        f"{got:.9g} where XGBoost gave {expected:.9g} at export (off by "
        f"{abs(got - expected):.3g}, tolerance {allowed:.3g}); the graph is not the one "
        "that was exported"
    )


# Rows of the parity sample exact TreeSHAP is checked on at load, evenly spread (all of them
# take about a second: a model.json of other trees misses the margin on nearly every row).
TREESHAP_ROWS = 256


def check_treeshap(path: Path, shap: TreeShap, sample: ParitySample) -> None:
    """Raise `ModelArtifactError` unless exact TreeSHAP from `path` (model.json) adds up to
    XGBoost's margin on `TREESHAP_ROWS` parity rows: trees other than the exported ones do
    not."""
    rows = np.unique(np.linspace(0, len(sample.features) - 1, TREESHAP_ROWS).astype(np.int64))
    for row in rows.tolist():
        features = sample.features[row]
        total = shap.bias + float(shap.contributions(features).sum())
        expected = float(sample.margin[row])
        if not abs(total - expected) <= MARGIN_TOLERANCE:
            _refuse(path, row, "bias + exact TreeSHAP", total, expected, MARGIN_TOLERANCE)
