"""The fraud model at run time: a verified ONNX artifact, its sessions and its calibration.

feature vector (manifest order) -> ONNX Runtime -> raw probability -> margin -> calibrated score,
and for one transaction online, in the same run, the attributions of the margin to features.
Used by the service and by offline prediction alike, so both score the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from pydantic import ValidationError

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from model.errors import ModelArtifactError
from model.manifest import (
    ATTRIBUTIONS_FILE,
    CONTRIBUTIONS_OUTPUT,
    MANIFEST_FILE,
    ONNX_FILE,
    PROBABILITIES_OUTPUT,
    Calibration,
    Manifest,
    sha256_file,
)

Floats = npt.NDArray[np.float64]
# Keeps the logit finite: ONNX Runtime returns float32 probabilities.
_PROBABILITY_EPSILON = 1e-7


def margins_from_probabilities(probability: npt.NDArray[Any]) -> Floats:
    """The model's log-odds margin, recovered from its (float32) probability."""
    result: Floats = _logit(np.asarray(probability, dtype=np.float64))
    return result


def calibrate(calibration: Calibration, margin: Floats) -> Floats:
    """Calibrated fraud probability for each margin (Platt scaling)."""
    result: Floats = _platt(calibration, margin)
    return result


# The two formulas take float64 arrays or scalars: `Model.explain` calls them on scalars
# (several times faster than on one-element arrays) and gets, from the same ufuncs, the bits
# `scores` gives.


def _logit(p: Any) -> Any:
    p = np.minimum(np.maximum(p, _PROBABILITY_EPSILON), 1 - 1e-7)  # np.clip's result, faster
    return np.log(p) - np.log1p(-p)


def _platt(calibration: Calibration, margin: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-(calibration.slope * margin + calibration.intercept)))


@dataclass(frozen=True, slots=True)
class Explanation:
    """One transaction's score and the attribution of its margin to features.

    `bias + contributions.sum() == margin` (float32 rounding aside); `contributions` is in
    feature-definition order, in log-odds. `score` is exactly what `Model.scores` gives.
    """

    score: float
    margin: float
    bias: float
    contributions: Floats


_EXPLAIN_OUTPUTS = [PROBABILITIES_OUTPUT, CONTRIBUTIONS_OUTPUT]


@dataclass(frozen=True)
class Model:
    """A loaded, verified model artifact. Create it with `load_model`."""

    directory: Path
    manifest: Manifest
    session: ort.InferenceSession
    # attributions.onnx: the same classifier and the attribution ensemble, for `explain`.
    explainer: ort.InferenceSession

    @property
    def version(self) -> str:
        return self.manifest.model_version

    def raw_probabilities(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """The uncalibrated probabilities ONNX Runtime gives for rows in manifest order."""
        _, probabilities = self.session.run(None, {self.manifest.onnx_input: features})
        return np.asarray(probabilities, dtype=np.float32)[:, 1]

    def margins(self, features: npt.NDArray[np.float32]) -> Floats:
        return margins_from_probabilities(self.raw_probabilities(features))

    def scores(self, features: npt.NDArray[np.float32]) -> Floats:
        """Calibrated fraud probabilities for rows of features in manifest order."""
        return calibrate(self.manifest.calibration, self.margins(features))

    def explain(self, row: npt.NDArray[np.float32]) -> Explanation:
        """Score one transaction and attribute its margin: one ONNX Runtime run.

        `row` is float32 of shape (1, features) in manifest order. `score` comes from the
        classifier's float32 probability exactly as in `scores`; `margin` is the trees' sum
        (bias + contributions), more precise than `margins` where that probability nears 1:
        calibrating it gives `score` within about 1e-6.
        """
        probabilities, contributions = self.explainer.run(
            _EXPLAIN_OUTPUTS, {self.manifest.onnx_input: row}
        )
        values = contributions[0].astype(np.float64)
        score = _platt(self.manifest.calibration, _logit(np.float64(probabilities[0, 1])))
        return Explanation(
            score=float(score),
            margin=float(values.sum()),
            bias=float(values[-1]),
            contributions=values[:-1],
        )


def load_model(directory: Path, *, intra_op_threads: int = 1) -> Model:
    """Load and verify the artifact in `directory`.

    Raises `ModelArtifactError` naming the file and the problem when the manifest is invalid,
    a file's checksum differs, or the artifact was trained on other feature definitions.
    """
    manifest = read_manifest(directory)
    for name, expected in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise ModelArtifactError(f"{path}: missing (listed in {MANIFEST_FILE})")
        if sha256_file(path) != expected:
            raise ModelArtifactError(f"{path}: sha256 differs from {MANIFEST_FILE}; corrupt?")
    _check_features(directory / MANIFEST_FILE, manifest)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    session = _session(directory / ONNX_FILE, options)
    explainer = _session(directory / ATTRIBUTIONS_FILE, options)
    outputs = [output.name for output in explainer.get_outputs()]
    if outputs != _EXPLAIN_OUTPUTS:
        raise ModelArtifactError(
            f"{directory / ATTRIBUTIONS_FILE}: outputs are {outputs}, expected {_EXPLAIN_OUTPUTS}"
        )
    return Model(directory, manifest, session, explainer)


def _session(path: Path, options: ort.SessionOptions) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelArtifactError(f"{path}: ONNX Runtime refused it: {exc}") from exc


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST_FILE
    try:
        return Manifest.model_validate(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise ModelArtifactError(f"{path}: no manifest; is {directory} a model artifact?") from exc
    except json.JSONDecodeError as exc:
        raise ModelArtifactError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ModelArtifactError(f"{path}: field {field!r}: {first['msg']}") from exc


def _check_features(path: Path, manifest: Manifest) -> None:
    if tuple(manifest.features) != FEATURE_NAMES:
        unknown = sorted(set(manifest.features) - set(FEATURE_NAMES))
        absent = sorted(set(FEATURE_NAMES) - set(manifest.features))
        raise ModelArtifactError(
            f"{path}: field 'features' does not match this build's feature definitions "
            f"(unknown: {unknown or 'none'}; absent: {absent or 'none'}; else the order); retrain"
        )
    if manifest.feature_set_version != FEATURE_SET_VERSION:
        raise ModelArtifactError(
            f"{path}: field 'feature_set_version' is {manifest.feature_set_version}, this build "
            f"computes {FEATURE_SET_VERSION}; retrain the model on the current definitions"
        )
