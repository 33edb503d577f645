"""The fraud model at run time: a verified ONNX artifact, its session and its calibration.

feature vector (manifest order) -> ONNX Runtime -> raw probability -> margin -> calibrated score.
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
from scoring.errors import ModelArtifactError
from scoring.manifest import MANIFEST_FILE, ONNX_FILE, Calibration, Manifest, sha256_file

Floats = npt.NDArray[np.float64]
# Keeps the logit finite: ONNX Runtime returns float32 probabilities.
_PROBABILITY_EPSILON = 1e-7


def margins_from_probabilities(probability: npt.NDArray[Any]) -> Floats:
    """The model's log-odds margin, recovered from its (float32) probability."""
    p = np.clip(np.asarray(probability, dtype=np.float64), _PROBABILITY_EPSILON, 1 - 1e-7)
    result: Floats = np.log(p) - np.log1p(-p)
    return result


def calibrate(calibration: Calibration, margin: Floats) -> Floats:
    """Calibrated fraud probability for each margin (Platt scaling)."""
    result: Floats = 1.0 / (1.0 + np.exp(-(calibration.slope * margin + calibration.intercept)))
    return result


@dataclass(frozen=True)
class Model:
    """A loaded, verified model artifact. Create it with `load_model`."""

    directory: Path
    manifest: Manifest
    session: ort.InferenceSession

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
    try:
        session = ort.InferenceSession(
            str(directory / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelArtifactError(
            f"{directory / ONNX_FILE}: ONNX Runtime refused it: {exc}"
        ) from exc
    return Model(directory, manifest, session)


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
