"""`riskscore train`: raw history -> features -> time split -> (tuning) -> fit -> evaluate ->
ONNX (model and attributions) -> parity sample -> artifact (signed when given a key).

The artifact folder is complete or absent: files are written to a temporary folder beside the
target and renamed into place only after the parity checks have passed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from feature_store.definitions import FEATURE_NAMES
from feature_store.offline import compute_features, times_ms
from model.calibration import calibrate
from model.errors import ModelArtifactError
from model.manifest import (
    ATTRIBUTIONS_FILE,
    MANIFEST_FILE,
    ONNX_FILE,
    PARITY_SAMPLE_FILE,
    XGBOOST_FILE,
    Manifest,
    sha256_file,
)
from model.parity import check_graphs, check_treeshap, save_parity_sample
from model.signing import sign_manifest
from model.treeshap import TreeShap
from training.attributions import export_attributions
from training.config import TrainingOptions as TrainingOptions
from training.diagnostics import Diagnostics, diagnose
from training.export import ParityError, export_onnx, onnx_session
from training.fit import FitError, FittedModel, fit_model
from training.manifest import Exported, build_manifest, normal_ranges
from training.manifest import fingerprint as fingerprint
from training.metrics import EvaluationSet
from training.model_card import write_model_card
from training.parity_sample import build_parity_sample
from training.split import (
    DAY_MS,
    TimeSplit,
    require_both_classes,
    split_by_time,
    split_by_windows,
)
from training.tuning import TuningResult, tune_parameters

Progress = Callable[[str], object]


def train_artifact(
    history: pd.DataFrame,
    out_dir: Path,
    options: TrainingOptions | None = None,
    progress: Progress | None = None,
    signing_key: Ed25519PrivateKey | None = None,
    typology: npt.NDArray[np.object_] | None = None,
) -> Manifest:
    """Train on a normalised history and write a verified artifact.

    `out_dir` is the artifact folder, or, when it names an existing folder that is not an
    artifact (such as `model_artifacts/`), the folder in which `<model_version>/` is created.
    With `options.tuning.enabled` the parameters are searched first (`training.tuning`).
    With `signing_key` the artifact's manifest is signed (`manifest.sig`, model/signing.py).
    `typology` (the fraud typology of each row, "none" for legitimate ones) adds recall per
    typology to the model card.
    """
    options = options or TrainingOptions()
    step = progress or (lambda _name: None)
    labels = _labels(history)
    features = compute_features(history, label_delay_seconds=options.label_delay_seconds)
    step("features")
    matrix = features.to_numpy(dtype=np.float32)
    ts_ms = times_ms(history["timestamp"])
    split = time_split(ts_ms, options)
    require_both_classes(split, labels)
    fitted, tuned = _fit(matrix, labels, ts_ms, split, options, step)
    step("fit")
    evaluations = {
        name: _evaluation(fitted, matrix, labels, history, ts_ms, rows)
        for name, rows in (("validation", split.validation), ("test", split.test))
    }
    exported = _export(fitted, matrix[split.test])
    step("export")
    ranges = normal_ranges(matrix[split.train])
    manifest = build_manifest(
        history, labels, split, fitted, evaluations, exported, options, tuned, ranges
    )
    if out_dir.is_dir() and not (out_dir / MANIFEST_FILE).exists():
        out_dir = out_dir / manifest.model_version
    _check_sample(out_dir, manifest, exported, fitted)
    diagnostics = diagnose(
        fitted.classifier,
        FEATURE_NAMES,
        matrix[split.test],
        evaluations["test"],
        fitted.bands.review_at,
        None if typology is None else typology[split.test],
    )
    _write(out_dir, manifest, fitted, exported, evaluations["test"], diagnostics, signing_key)
    step("write")
    return manifest


def _fit(
    matrix: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int8],
    ts_ms: npt.NDArray[np.int64],
    split: TimeSplit,
    options: TrainingOptions,
    step: Progress,
) -> tuple[FittedModel, TuningResult | None]:
    """Tune on the training window when asked, then fit and calibrate."""
    parameters, tuned = options.resolved_parameters(), None
    if options.tuning.enabled:
        rows = split.train
        tuned = tune_parameters(
            (matrix[rows], labels[rows]), ts_ms[rows], parameters, options.tuning
        )
        parameters = tuned.parameters
        step("tune")
    fitted = fit_model(
        (matrix[split.train], labels[split.train]),
        (matrix[split.validation], labels[split.validation]),
        parameters,
    )
    return fitted, tuned


def time_split(ts_ms: npt.NDArray[np.int64], options: TrainingOptions) -> TimeSplit:
    """The windows `options` ask for: by dates when given, else by shares of the span."""
    if options.windows.given():
        return split_by_windows(
            ts_ms, options.windows, validation_fraction=options.validation_fraction
        )
    return split_by_time(
        ts_ms,
        test_fraction=options.test_fraction,
        validation_fraction=options.validation_fraction,
        gap_days=options.gap_days,
    )


def _export(fitted: FittedModel, test: npt.NDArray[np.float32]) -> Exported:
    """Both ONNX graphs, each checked on the test window, and the parity sample."""
    exported = export_onnx(fitted.classifier, test)
    attributions = export_attributions(fitted.classifier, exported.model_bytes, test)
    sample, coverage = build_parity_sample(fitted.classifier, fitted.calibration, test)
    return Exported(exported, attributions, sample, coverage)


def _check_sample(
    out_dir: Path, manifest: Manifest, exported: Exported, fitted: FittedModel
) -> None:
    """The checks `load_model` will run, run first here: no artifact fails them when loaded."""
    try:
        check_graphs(
            out_dir,
            manifest,
            exported.sample,
            onnx_session(exported.onnx.model_bytes),
            onnx_session(exported.attributions.model_bytes),
        )
        trees = bytes(fitted.classifier.get_booster().save_raw("json"))
        path = out_dir / XGBOOST_FILE
        shap = TreeShap.from_xgboost(path, trees, len(manifest.features), fitted.best_iteration + 1)
        check_treeshap(path, shap, exported.sample)
    except ModelArtifactError as exc:
        raise ParityError(f"{exc}; not publishing") from exc


def _labels(history: pd.DataFrame) -> npt.NDArray[np.int8]:
    labels = history["is_fraud"]
    if bool(labels.isna().any()):
        row = int(np.flatnonzero(labels.isna().to_numpy())[0]) + 1
        raise FitError(
            f"column 'is_fraud', row {row}: missing; training needs every row labelled (a live "
            "export: `--unlabelled-after-days` settles the unlabelled ones)"
        )
    return labels.to_numpy(dtype=np.int8)


def _evaluation(
    fitted: FittedModel,
    matrix: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int8],
    history: pd.DataFrame,
    ts_ms: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
) -> EvaluationSet:
    margin = fitted.classifier.predict(matrix[rows], output_margin=True).astype(np.float64)
    return EvaluationSet(
        y_true=labels[rows],
        score=calibrate(fitted.calibration, margin),
        card_id=history["card_id"].to_numpy(dtype=object)[rows],
        day=ts_ms[rows] // DAY_MS,
        amount_usd=matrix[rows, FEATURE_NAMES.index("amount_usd")].astype(np.float64),
    )


def _write(
    out_dir: Path,
    manifest: Manifest,
    fitted: FittedModel,
    exported: Exported,
    test: EvaluationSet,
    diagnostics: Diagnostics,
    signing_key: Ed25519PrivateKey | None,
) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        (staging / ONNX_FILE).write_bytes(exported.onnx.model_bytes)
        (staging / ATTRIBUTIONS_FILE).write_bytes(exported.attributions.model_bytes)
        save_parity_sample(exported.sample, staging / PARITY_SAMPLE_FILE)
        fitted.classifier.save_model(staging / XGBOOST_FILE)
        write_model_card(staging, manifest.model_dump(mode="json"), test, diagnostics)
        files = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
        final = manifest.model_copy(update={"files": files})
        (staging / MANIFEST_FILE).write_text(final.model_dump_json(indent=2) + "\n")
        if signing_key is not None:
            sign_manifest(staging, signing_key)
        staging.chmod(0o755)  # mkdtemp makes it private; an artifact is for everyone to read
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
