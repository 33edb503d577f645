"""`riskscore train`: raw history -> features -> time split -> fit -> evaluate -> ONNX (model and
attributions) -> artifact.

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

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from feature_store.offline import DEFAULT_LABEL_DELAY_SECONDS, compute_features, times_ms
from model.artifact import calibrate
from model.manifest import (
    ATTRIBUTIONS_FILE,
    MANIFEST_FILE,
    ONNX_FILE,
    XGBOOST_FILE,
    Attributions,
    Manifest,
    Parity,
    TrainingData,
    Window,
    sha256_file,
)
from training.attributions import ATTRIBUTION_TOLERANCE, AttributionExport, export_attributions
from training.export import ONNX_INPUT, PARITY_TOLERANCE, OnnxExport, export_onnx
from training.fit import DEFAULT_PARAMETERS, FitError, FittedModel, fit_model
from training.metrics import EvaluationSet, evaluate
from training.model_card import write_model_card
from training.split import DAY_MS, TimeSplit, split_by_time

Progress = Callable[[str], object]


@dataclass(frozen=True)
class TrainingOptions:
    test_fraction: float = 0.2
    validation_fraction: float = 0.15
    gap_days: float = 7.0
    label_delay_seconds: int = DEFAULT_LABEL_DELAY_SECONDS
    parameters: dict[str, Any] | None = None


def train_artifact(
    history: pd.DataFrame,
    out_dir: Path,
    options: TrainingOptions = TrainingOptions(),
    progress: Progress | None = None,
) -> Manifest:
    """Train on a normalised history and write a verified artifact.

    `out_dir` is the artifact folder, or, when it names an existing folder that is not an
    artifact (such as `model_artifacts/`), the folder in which `<model_version>/` is created.
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
    exported = export_onnx(fitted.classifier, matrix[split.test])
    attributions = export_attributions(fitted.classifier, exported.model_bytes, matrix[split.test])
    step("export")
    manifest = _manifest(
        history, labels, split, fitted, evaluations, exported, attributions, options
    )
    if out_dir.is_dir() and not (out_dir / MANIFEST_FILE).exists():
        out_dir = out_dir / manifest.model_version
    onnx_files = {ONNX_FILE: exported.model_bytes, ATTRIBUTIONS_FILE: attributions.model_bytes}
    _write(out_dir, manifest, fitted, onnx_files, evaluations["test"])
    step("write")
    return manifest


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
    exported: OnnxExport,
    attributions: AttributionExport,
    options: TrainingOptions,
) -> Manifest:
    ts = history["timestamp"]
    end_day = ts.max().strftime("%Y%m%d")
    onnx_hash = hashlib.sha256(exported.model_bytes).hexdigest()
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
            rows=exported.rows, max_abs_diff=exported.max_abs_diff, tolerance=PARITY_TOLERANCE
        ),
        attributions=Attributions(
            rows=attributions.rows,
            max_abs_diff=attributions.max_abs_diff,
            max_margin_diff=attributions.max_margin_diff,
            max_probability_diff=attributions.max_probability_diff,
            tolerance=ATTRIBUTION_TOLERANCE,
        ),
        files={},
    )


def _write(
    out_dir: Path,
    manifest: Manifest,
    fitted: FittedModel,
    onnx_files: dict[str, bytes],
    test: EvaluationSet,
) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for name, content in onnx_files.items():
            (staging / name).write_bytes(content)
        fitted.classifier.save_model(staging / XGBOOST_FILE)
        write_model_card(staging, manifest.model_dump(mode="json"), test)
        files = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
        final = manifest.model_copy(update={"files": files})
        (staging / MANIFEST_FILE).write_text(final.model_dump_json(indent=2) + "\n")
        staging.chmod(0o755)  # mkdtemp makes it private; an artifact is for everyone to read
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
