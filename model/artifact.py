"""The fraud model at run time: a verified ONNX artifact, its sessions and its calibration.

feature vector (manifest order) -> ONNX Runtime -> raw probability -> margin -> calibrated score,
and for a transaction that is explained, the exact TreeSHAP attributions of its margin to
features (`model.treeshap`) and each feature's normal range (reason codes' directions).
Used by the service and by offline prediction alike, so both score the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from pydantic import ValidationError

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from model.calibration import Floats, calibrate, margins_from_probabilities
from model.errors import ModelArtifactError
from model.manifest import (
    ATTRIBUTIONS_FILE,
    CONTRIBUTIONS_OUTPUT,
    MANIFEST_FILE,
    ONNX_FILE,
    PARITY_SAMPLE_FILE,
    PROBABILITIES_OUTPUT,
    REQUIRED_FILES,
    SCHEMA_VERSION,
    XGBOOST_FILE,
    Manifest,
)
from model.parity import check_graphs, check_treeshap, read_parity_sample
from model.reasoning import explained_reasons
from model.signing import verify_manifest
from model.treeshap import TreeShap


@dataclass(frozen=True, slots=True)
class Explanation:
    """One transaction's score and the exact TreeSHAP attribution of its margin to features.

    `bias + contributions.sum() == margin`; `contributions` is in feature-definition order,
    in log-odds. `score` is exactly what `Model.scores` gives.
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
    # attributions.onnx: the same classifier and Saabas path attributions (checked at load;
    # offline comparisons read it, the score path explains with `shap`).
    explainer: ort.InferenceSession
    shap: TreeShap  # exact TreeSHAP, from model.json
    normal_low: Floats  # each feature's normal range, in manifest order (`NormalRange`)
    normal_high: Floats

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

    def score_one(self, row: npt.NDArray[np.float32]) -> tuple[float, float]:
        """(calibrated score, margin) of one row of shape (1, features), as `scores` and
        `margins` give them, in one ONNX Runtime run."""
        margins = self.margins(row)
        return float(calibrate(self.manifest.calibration, margins)[0]), float(margins[0])

    def contributions(self, row: npt.NDArray[np.float32]) -> Floats:
        """Exact TreeSHAP of one row's margin (the bias is `shap.bias`), rounded to float32
        (`TreeShap.contributions`)."""
        return self.shap.contributions(row)

    def explain(self, row: npt.NDArray[np.float32]) -> Explanation:
        """Score one transaction and attribute its margin exactly (TreeSHAP).

        `row` is float32 of shape (1, features) in manifest order. `score` comes from the
        classifier's float32 probability exactly as in `scores`; `margin` is the trees' sum
        (bias + contributions), more precise than `margins` where that probability nears 1.
        """
        contributions = self.contributions(row)
        return Explanation(
            score=self.score_one(row)[0],
            margin=self.shap.bias + float(contributions.sum()),
            bias=self.shap.bias,
            contributions=contributions,
        )


def load_model(
    directory: Path,
    *,
    intra_op_threads: int = 1,
    verify_key_file: Path | None = None,
    this_build_features: bool = True,
) -> Model:
    """Load and verify the artifact in `directory`.

    Raises `ModelArtifactError` naming the file and the problem when the manifest is invalid,
    a file's checksum differs, the artifact was trained on other feature definitions, or
    either ONNX graph disagrees with the parity sample (the rows XGBoost scored at export).
    With `verify_key_file` (a PEM Ed25519 public key) the manifest must carry a valid
    signature by that key (`ModelSignatureError` otherwise). With `this_build_features`
    False, a model of another feature set loads too (offline comparisons, which pick its
    features by name); everything else is verified all the same.
    """
    manifest_path = directory / MANIFEST_FILE
    manifest_bytes = _read_manifest_bytes(directory)
    if verify_key_file is not None:
        verify_manifest(directory, manifest_bytes, verify_key_file)
    manifest = _parse_manifest(manifest_path, manifest_bytes)
    contents = _read_listed_files(directory, manifest)
    if this_build_features:
        _check_features(manifest_path, manifest)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    session = _session(directory / ONNX_FILE, contents[ONNX_FILE], options)
    explainer = _session(directory / ATTRIBUTIONS_FILE, contents[ATTRIBUTIONS_FILE], options)
    outputs = [output.name for output in explainer.get_outputs()]
    if outputs != _EXPLAIN_OUTPUTS:
        raise ModelArtifactError(
            f"{directory / ATTRIBUTIONS_FILE}: outputs are {outputs}, expected {_EXPLAIN_OUTPUTS}"
        )
    sample_path = directory / PARITY_SAMPLE_FILE
    sample = read_parity_sample(sample_path, contents[PARITY_SAMPLE_FILE], len(manifest.features))
    check_graphs(directory, manifest, sample, session, explainer)
    shap = TreeShap.from_xgboost(
        directory / XGBOOST_FILE,
        contents[XGBOOST_FILE],
        len(manifest.features),
        manifest.best_iteration + 1,
    )
    check_treeshap(directory / XGBOOST_FILE, shap, sample)
    low, high = _normal_ranges(manifest_path, manifest)
    if this_build_features:
        # Compiles the explained decision's call now, once per process (a few seconds), not
        # in the first decision at or above the review band.
        row = sample.features[:1]
        explained_reasons(shap, row, row[0].astype(np.float64), low, high)
    return Model(directory, manifest, session, explainer, shap, low, high)


def _normal_ranges(path: Path, manifest: Manifest) -> tuple[Floats, Floats]:
    """Each feature's normal range, in manifest order; refused unless there is one for each
    feature and none for anything else."""
    ranges = manifest.normal_ranges
    absent = [name for name in manifest.features if name not in ranges]
    unknown = sorted(set(ranges) - set(manifest.features))
    if absent or unknown:
        raise ModelArtifactError(
            f"{path}: field 'normal_ranges' must hold one range per feature (absent: "
            f"{absent or 'none'}; unknown: {unknown or 'none'}); reason codes need them"
        )
    low = np.array([ranges[name].low for name in manifest.features], dtype=np.float64)
    high = np.array([ranges[name].high for name in manifest.features], dtype=np.float64)
    return low, high


def _read_listed_files(directory: Path, manifest: Manifest) -> dict[str, bytes]:
    """Every file the manifest lists, read once and checked against its sha256: what is
    checked is what gets loaded."""
    unlisted = [name for name in REQUIRED_FILES if name not in manifest.files]
    if unlisted:
        raise ModelArtifactError(
            f"{directory / MANIFEST_FILE}: field 'files' does not list {unlisted}; "
            "every file the service loads must carry its sha256"
        )
    contents = {}
    for name, expected in manifest.files.items():
        path = directory / name
        if not path.is_file():
            raise ModelArtifactError(f"{path}: missing (listed in {MANIFEST_FILE})")
        content = path.read_bytes()
        if hashlib.sha256(content).hexdigest() != expected:
            raise ModelArtifactError(f"{path}: sha256 differs from {MANIFEST_FILE}; corrupt?")
        contents[name] = content
    return contents


def _session(path: Path, content: bytes, options: ort.SessionOptions) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelArtifactError(f"{path}: ONNX Runtime refused it: {exc}") from exc


def _read_manifest_bytes(directory: Path) -> bytes:
    path = directory / MANIFEST_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelArtifactError(f"{path}: no manifest; is {directory} a model artifact?") from exc
    except OSError as exc:
        raise ModelArtifactError(f"{path}: cannot read it: {exc.strerror}") from exc


def _parse_manifest(path: Path, content: bytes) -> Manifest:
    """Validate a manifest's bytes; `path` is for messages."""
    try:
        document = json.loads(content)
    except json.JSONDecodeError as exc:
        raise ModelArtifactError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise ModelArtifactError(f"{path}: not UTF-8 text: {exc.reason}") from exc
    found = document.get("schema_version") if isinstance(document, dict) else None
    if found != SCHEMA_VERSION:
        raise ModelArtifactError(
            f"{path}: field 'schema_version' is {found!r}; this build serves version "
            f"{SCHEMA_VERSION} (with a parity sample and normal ranges): retrain the model with "
            "this build"
        )
    try:
        return Manifest.model_validate(document)
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
