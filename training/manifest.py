"""The manifest of a training run: what `training.pipeline` learnt from, ran with and measured.

Assembled after fitting and export, before the artifact is written; the schema is
`model.manifest`'s, shared with the scorer that checks it at load.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from model.manifest import (
    Attributions,
    Manifest,
    NormalRange,
    Parity,
    ParitySampleSummary,
    TrainingConfigRecord,
    TrainingData,
    TuningRecord,
    Window,
)
from model.parity import ParitySample
from training.attributions import ATTRIBUTION_TOLERANCE, AttributionExport
from training.config import TrainingOptions
from training.export import ONNX_INPUT, PARITY_TOLERANCE, OnnxExport
from training.fit import FittedModel
from training.metrics import EvaluationSet, evaluate
from training.split import TimeSplit
from training.tuning import METRIC, TuningResult


@dataclass(frozen=True)
class Exported:
    """Both ONNX graphs, each checked on the test window, and the parity sample."""

    onnx: OnnxExport
    attributions: AttributionExport
    sample: ParitySample
    coverage: ParitySampleSummary


def fingerprint(history: pd.DataFrame) -> str:
    """sha256 of the normalised history's content, independent of the file format."""
    hashes = pd.util.hash_pandas_object(history.astype(str), index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _window(split: TimeSplit, name: str, labels: npt.NDArray[np.int8]) -> Window:
    rows: npt.NDArray[np.int64] = getattr(split, name)
    start, end = split.bounds_ms[name]
    return Window(start=iso(start), end=iso(end), rows=len(rows), frauds=int(labels[rows].sum()))


def _config_record(options: TrainingOptions, tuned: TuningResult | None) -> TrainingConfigRecord:
    tuning = None
    if tuned is not None:
        start, end = tuned.validation_bounds_ms
        tuning = TuningRecord(
            metric=METRIC,
            seed=options.tuning.seed,
            trials_budget=options.tuning.trials,
            minutes_budget=options.tuning.minutes,
            trials=tuned.trials,
            start_value=tuned.start_value,
            best_value=tuned.best_value,
            searched=tuned.searched,
            validation=Window(
                start=iso(start),
                end=iso(end),
                rows=tuned.validation_rows,
                frauds=tuned.validation_frauds,
            ),
        )
    source = options.source
    return TrainingConfigRecord(
        source=source.path if source else None,
        sha256=source.sha256 if source else None,
        settings=options.settings(),
        tuning=tuning,
    )


def normal_ranges(train: npt.NDArray[np.float32]) -> dict[str, NormalRange]:
    """Each feature's lower and upper quartile over its known values in the training window
    (0 and 0 for a feature never known there: any known value is then off its range)."""
    with warnings.catch_warnings():  # an all-missing column is expected, and handled
        warnings.simplefilter("ignore", RuntimeWarning)
        quartiles = np.nanquantile(train.astype(np.float64), [0.25, 0.75], axis=0)
    quartiles = np.nan_to_num(quartiles, nan=0.0)
    return {
        name: NormalRange(low=float(low), high=float(high))
        for name, low, high in zip(FEATURE_NAMES, quartiles[0], quartiles[1], strict=True)
    }


def build_manifest(
    history: pd.DataFrame,
    labels: npt.NDArray[np.int8],
    split: TimeSplit,
    fitted: FittedModel,
    evaluations: dict[str, EvaluationSet],
    exported: Exported,
    options: TrainingOptions,
    tuned: TuningResult | None,
    ranges: dict[str, NormalRange],
) -> Manifest:
    """The manifest, its `files` left empty for the writer to fill in."""
    ts = history["timestamp"]
    onnx_hash = hashlib.sha256(exported.onnx.model_bytes).hexdigest()
    attributions = exported.attributions
    parameters = tuned.parameters if tuned else options.resolved_parameters()
    return Manifest(
        model_version=f"rs-{ts.max().strftime('%Y%m%d')}-{onnx_hash[:8]}",
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
        normal_ranges=ranges,
        files={},
        training_config=_config_record(options, tuned),
    )
