"""`riskscore train`: raw history -> features -> time split -> fit -> evaluate -> ONNX (model and
attributions) -> parity sample -> artifact (signed when given a key).

The artifact folder is complete or absent: files are written to a temporary folder beside the
target and renamed into place only after the parity checks have passed.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from feature_store.offline import DEFAULT_LABEL_DELAY_SECONDS, compute_features, times_ms
from model.calibration import calibrate
from model.errors import ModelArtifactError
from model.manifest import (
    ATTRIBUTIONS_FILE,
    MANIFEST_FILE,
    ONNX_FILE,
    PARITY_SAMPLE_FILE,
    XGBOOST_FILE,
    Attributions,
    Manifest,
    Parity,
    ParitySampleSummary,
    TrainingData,
    Window,
    sha256_file,
)
from model.parity import ParitySample, check_graphs, save_parity_sample
from model.signing import sign_manifest
from training.attributions import ATTRIBUTION_TOLERANCE, AttributionExport, export_attributions
from training.export import (
    ONNX_INPUT,
    PARITY_TOLERANCE,
    OnnxExport,
    ParityError,
    export_onnx,
    onnx_session,
)
from training.fit import DEFAULT_PARAMETERS, FitError, FittedModel, fit_model
from training.metrics import EvaluationSet, evaluate
from training.model_card import write_model_card
from training.parity_sample import build_parity_sample
from training.split import DAY_MS, TimeSplit, split_by_time

Progress = Callable[[str], object]


@dataclass(frozen=True)
class TrainingOptions:
    test_fraction: float = 0.2
    validation_fraction: float = 0.15
    gap_days: float = 7.0
    label_delay_seconds: int = DEFAULT_LABEL_DELAY_SECONDS
    parameters: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Exported:
    onnx: OnnxExport
    attributions: AttributionExport
    sample: ParitySample
    coverage: ParitySampleSummary


def train_artifact(
    history: pd.DataFrame,
    out_dir: Path,
    options: TrainingOptions = TrainingOptions(),
    progress: Progress | None = None,
    signing_key: Ed25519PrivateKey | None = None,
) -> Manifest:
    """Train on a normalised history and write a verified artifact.

    `out_dir` is the artifact folder, or, when it names an existing folder that is not an
    artifact (such as `model_artifacts/`), the folder in which `<model_version>/` is created.
    With `signing_key` the artifact's manifest is signed (`manifest.sig`, model/signing.py).
    """
    step = progress or (lambda _name: None)
    labels = _labels(history)
    features = compute_features(history, label_delay_seconds=options.label_delay_seconds)
    step("features")
    matrix = features.to_numpy(dtype=np.float32)
    ts_ms = times_ms(history["timestamp"])
    split = split_by_time(
        ts_ms,
        test_fraction=options.test_fraction,
        validation_fraction=options.validation_fraction,
        gap_days=options.gap_days,
    )
    fitted = fit_model(
        (matrix[split.train], labels[split.train]),
        (matrix[split.validation], labels[split.validation]),
        options.parameters,
    )
    step("fit")
    evaluations = {
        name: _evaluation(fitted, matrix, labels, history, ts_ms, rows)
        for name, rows in (("validation", split.validation), ("test", split.test))
    }
    exported = _export(fitted, matrix[split.test])
    step("export")
    manifest = _manifest(history, labels, split, fitted, evaluations, exported, options)
    if out_dir.is_dir() and not (out_dir / MANIFEST_FILE).exists():
        out_dir = out_dir / manifest.model_version
    _check_sample(out_dir, manifest, exported)
    _write(out_dir, manifest, fitted, exported, evaluations["test"], signing_key)
    step("write")
    return manifest


def _export(fitted: FittedModel, test: npt.NDArray[np.float32]) -> _Exported:
    """Both ONNX graphs, each checked on the test window, and the parity sample."""
    exported = export_onnx(fitted.classifier, test)
    attributions = export_attributions(fitted.classifier, exported.model_bytes, test)
    sample, coverage = build_parity_sample(fitted.classifier, fitted.calibration, test)
    return _Exported(exported, attributions, sample, coverage)


def _check_sample(out_dir: Path, manifest: Manifest, exported: _Exported) -> None:
    """The check `load_model` will run, run first here: no artifact fails it when loaded."""
    try:
        check_graphs(
            out_dir,
            manifest,
            exported.sample,
            onnx_session(exported.onnx.model_bytes),
            onnx_session(exported.attributions.model_bytes),
        )
    except ModelArtifactError as exc:
        raise ParityError(f"{exc}; not publishing") from exc


def _labels(history: pd.DataFrame) -> npt.NDArray[np.int8]:
    labels = history["is_fraud"]
    if bool(labels.isna().any()):
        row = int(np.flatnonzero(labels.isna().to_numpy())[0]) + 1
        raise FitError(f"column 'is_fraud', row {row}: missing; training needs every row labelled")
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


def fingerprint(history: pd.DataFrame) -> str:
    """sha256 of the normalised history's content, independent of the file format."""
    hashes = pd.util.hash_pandas_object(history.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _window(split: TimeSplit, name: str, labels: npt.NDArray[np.int8]) -> Window:
    rows: npt.NDArray[np.int64] = getattr(split, name)
    start, end = split.bounds_ms[name]
    return Window(start=_iso(start), end=_iso(end), rows=len(rows), frauds=int(labels[rows].sum()))


def _manifest(
    history: pd.DataFrame,
    labels: npt.NDArray[np.int8],
    split: TimeSplit,
    fitted: FittedModel,
    evaluations: dict[str, EvaluationSet],
    exported: _Exported,
    options: TrainingOptions,
) -> Manifest:
    ts = history["timestamp"]
    end_day = ts.max().strftime("%Y%m%d")
    onnx_hash = hashlib.sha256(exported.onnx.model_bytes).hexdigest()
    attributions = exported.attributions
    parameters = options.parameters or DEFAULT_PARAMETERS
    return Manifest(
        model_version=f"rs-{end_day}-{onnx_hash[:8]}",
        feature_set_version=FEATURE_SET_VERSION,
        features=list(FEATURE_NAMES),
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        onnx_input=ONNX_INPUT,
        training_data=TrainingData(
            fingerprint=fingerprint(history),
            rows=len(history),
            frauds=int(labels.sum()),
            start=ts.min().isoformat(),
            end=ts.max().isoformat(),
        ),
        split={name: _window(split, name, labels) for name in ("train", "validation", "test")},
        gap_days=split.gap_days,
        label_delay_seconds=options.label_delay_seconds,
        parameters={k: v for k, v in parameters.items() if isinstance(v, int | float | str)},
        best_iteration=fitted.best_iteration,
        calibration=fitted.calibration,
        metrics={name: evaluate(data) for name, data in evaluations.items()},
        suggested_score_bands=fitted.bands,
        parity=Parity(
            rows=exported.onnx.rows,
            max_abs_diff=exported.onnx.max_abs_diff,
            tolerance=PARITY_TOLERANCE,
        ),
        attributions=Attributions(
            rows=attributions.rows,
            max_abs_diff=attributions.max_abs_diff,
            max_margin_diff=attributions.max_margin_diff,
            max_probability_diff=attributions.max_probability_diff,
            tolerance=ATTRIBUTION_TOLERANCE,
        ),
        parity_sample=exported.coverage,
        files={},
    )


def _write(
    out_dir: Path,
    manifest: Manifest,
    fitted: FittedModel,
    exported: _Exported,
    test: EvaluationSet,
    signing_key: Ed25519PrivateKey | None,
) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        (staging / ONNX_FILE).write_bytes(exported.onnx.model_bytes)
        (staging / ATTRIBUTIONS_FILE).write_bytes(exported.attributions.model_bytes)
        save_parity_sample(exported.sample, staging / PARITY_SAMPLE_FILE)
        fitted.classifier.save_model(staging / XGBOOST_FILE)
        write_model_card(staging, manifest.model_dump(mode="json"), test)
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
