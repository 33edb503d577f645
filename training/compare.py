"""`riskscore model compare`: two model artifacts scored on the same window of one history.

history -> features by this build's definitions (with each model's label delay) -> each model's
own features, by name, in its manifest's order -> its ONNX model and calibration -> the
fraud-team metrics of both, a precision-recall chart of both and a markdown report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from feature_store.offline import compute_features, times_ms
from model.artifact import Model, load_model
from model.errors import ModelArtifactError
from training.manifest import iso
from training.metrics import EvaluationSet, evaluate
from training.split import DAY_MS

REVIEW_RATES = (0.005, 0.01, 0.02)
CARD_K = 100


class CompareError(ValueError):
    """The models cannot be compared on this history (a feature not computed, no window)."""


@dataclass(frozen=True)
class Scored:
    """One model's scores of the window and what they measure."""

    label: str  # "A" or "B"
    model: Model
    evaluation: EvaluationSet
    metrics: dict[str, object]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    first: Scored
    second: Scored
    window: tuple[str, str]  # first and last transaction time, ISO
    transactions: int
    frauds: int


def compare_models(
    directories: tuple[Path, Path],
    history: pd.DataFrame,
    start: date | None = None,
    end: date | None = None,
    progress: Callable[[str], object] | None = None,
) -> Comparison:
    """Score `history`'s rows from `start` to `end` (whole UTC days, both included; default
    the whole history) with both artifacts. Raises `CompareError` or `ModelArtifactError`."""
    step = progress or (lambda _name: None)
    models = [_load(directory) for directory in directories]
    ts_ms = times_ms(history["timestamp"])
    rows = _window_rows(ts_ms, start, end)
    labels = history["is_fraud"].to_numpy()[rows]
    if np.isnan(labels).any() or labels.min() == labels.max():
        raise CompareError(
            f"the window's {len(rows)} transactions hold {int(np.nansum(labels))} fraud and "
            f"{int(np.isnan(labels).sum())} unlabelled: comparing needs every row labelled, "
            "and both fraud and legitimate rows; give a wider window"
        )
    features: dict[int, pd.DataFrame] = {}
    scored = []
    for label, model in zip("AB", models, strict=True):
        delay = model.manifest.label_delay_seconds
        if delay not in features:
            features[delay] = compute_features(history, label_delay_seconds=delay)
            step("features")
        matrix = features[delay][model.manifest.features].to_numpy(dtype=np.float32)[rows]
        evaluation = EvaluationSet(
            y_true=labels.astype(np.int8),
            score=model.scores(matrix),
            card_id=history["card_id"].to_numpy(dtype=object)[rows],
            day=ts_ms[rows] // DAY_MS,
            amount_usd=features[delay]["amount_usd"].to_numpy(dtype=np.float64)[rows],
        )
        metrics = evaluate(evaluation, review_rates=REVIEW_RATES, k=CARD_K)
        scored.append(Scored(label, model, evaluation, metrics, _notes(model, ts_ms[rows])))
        step(f"model {label}")
    window = tuple(iso(int(ms)) for ms in (ts_ms[rows].min(), ts_ms[rows].max()))
    return Comparison(scored[0], scored[1], (window[0], window[1]), len(rows), int(labels.sum()))


def _load(directory: Path) -> Model:
    """The artifact, verified, refused unless this build computes every feature it needs."""
    model = load_model(directory, intra_op_threads=0, this_build_features=False)
    manifest = model.manifest
    absent = [name for name in manifest.features if name not in FEATURE_NAMES]
    if absent:
        raise ModelArtifactError(
            f"{directory}: the model needs features this build does not compute: "
            f"{', '.join(absent)} (it was trained on feature set {manifest.feature_set_version}, "
            f"this build computes {FEATURE_SET_VERSION}); compare it with the build that "
            "trained it"
        )
    return model


def _window_rows(
    ts_ms: npt.NDArray[np.int64], start: date | None, end: date | None
) -> npt.NDArray[np.int64]:
    low = _midnight_ms(start) if start else int(ts_ms.min())
    high = _midnight_ms(end + timedelta(days=1)) if end else int(ts_ms.max()) + 1
    if high <= low:
        raise CompareError(f"--end {end} is before --start {start}")
    rows = np.flatnonzero((ts_ms >= low) & (ts_ms < high))
    if not rows.size:
        raise CompareError(f"no transactions of the history lie between {start} and {end}")
    return rows


def _notes(model: Model, window_ms: npt.NDArray[np.int64]) -> tuple[str, ...]:
    """What a reader of the figures must know: another feature set, or a window that
    overlaps the time the model learnt from (its figures are then optimistic)."""
    manifest = model.manifest
    notes = []
    if manifest.feature_set_version != FEATURE_SET_VERSION:
        notes.append(
            f"trained on feature set {manifest.feature_set_version}; this build computes "
            f"{FEATURE_SET_VERSION}: its {len(manifest.features)} features are matched by name "
            "with this build's definitions of them"
        )
    learnt = (manifest.split["train"].start, manifest.split["validation"].end)
    first, last = iso(int(window_ms.min())), iso(int(window_ms.max()))
    if first < learnt[1] and last >= learnt[0]:
        notes.append(
            f"the window overlaps the time it was trained and calibrated on ({learnt[0]} to "
            f"{learnt[1]}): if the history is the one it learnt from, its figures are optimistic"
        )
    return tuple(notes)


def _midnight_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
