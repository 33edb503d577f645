"""What the model card shows beyond the headline metrics: which features the model leans on,
how well its probabilities hold, and what it catches of each fraud typology.

Computed by `training.pipeline` on the test window after fitting; rendered by
`training.model_card` (tables) and `training.card_plots` (importance and reliability plots).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from training.attributions import tree_count
from training.metrics import EvaluationSet, recall_at_review_rate

Floats = npt.NDArray[np.float64]
# Bin edges of the reliability diagram: fine where fraud probabilities mostly are (near 0) and
# through the score bands; with fraud near 1 %, bins of equal counts would all but one sit at 0.
RELIABILITY_EDGES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95)
TYPOLOGY_REVIEW_RATE = 0.01
LEGITIMATE = "none"  # what the simulator's `fraud_scenario` holds for legitimate rows


@dataclass(frozen=True)
class Importance:
    """Per feature, in input order: its share of the total split gain of the trees the model
    predicts with, and the mean absolute attribution (log-odds) over the test window."""

    names: tuple[str, ...]
    gain_share: Floats
    mean_abs_attribution: Floats


@dataclass(frozen=True)
class ReliabilityBin:
    """Test rows whose score falls in [low, high): how many, their mean score, fraud rate."""

    low: float
    high: float
    rows: int
    mean_score: float
    fraud_rate: float


@dataclass(frozen=True)
class TypologyRecall:
    typology: str
    frauds: int
    recall_at_review_band: float  # share of its fraud scored at or above `review_at`
    recall_at_review_rate: float  # share of its fraud in the top TYPOLOGY_REVIEW_RATE


@dataclass(frozen=True)
class Diagnostics:
    importance: Importance
    reliability: tuple[ReliabilityBin, ...]
    expected_calibration_error: float
    typologies: tuple[TypologyRecall, ...]  # empty when the history names no typology
    review_at: float


def diagnose(
    classifier: xgb.XGBClassifier,
    names: tuple[str, ...],
    test: npt.NDArray[np.float32],
    evaluation: EvaluationSet,
    review_at: float,
    typology: npt.NDArray[np.object_] | None = None,
) -> Diagnostics:
    """The diagnostics of `classifier` on the test window (`test` features, `evaluation`
    scores and labels; `typology` per row, when the history has it)."""
    bins = reliability(evaluation.y_true, evaluation.score)
    return Diagnostics(
        importance=importance(classifier, names, test),
        reliability=bins,
        expected_calibration_error=expected_calibration_error(bins),
        typologies=typology_recall(evaluation, review_at, typology),
        review_at=review_at,
    )


def importance(
    classifier: xgb.XGBClassifier, names: tuple[str, ...], test: npt.NDArray[np.float32]
) -> Importance:
    trees = tree_count(classifier)
    booster = classifier.get_booster()
    gains = booster[:trees].get_score(importance_type="total_gain")
    # Without feature names XGBoost calls the columns f0, f1, ...
    gain = np.array([gains.get(f"f{i}", 0.0) for i in range(len(names))], dtype=np.float64)
    contributions = booster.predict(
        xgb.DMatrix(test, missing=np.nan),
        pred_contribs=True,
        approx_contribs=True,
        iteration_range=(0, trees),
    )
    attribution = np.abs(contributions[:, :-1]).mean(axis=0).astype(np.float64)
    total = float(gain.sum())
    return Importance(names, gain / total if total else gain, attribution)


def reliability(y_true: npt.NDArray[np.int8], score: Floats) -> tuple[ReliabilityBin, ...]:
    """The non-empty bins of `RELIABILITY_EDGES` (the last one closed at 1)."""
    edges = (*RELIABILITY_EDGES, np.inf)
    found = []
    for low, high in itertools.pairwise(edges):
        inside = (score >= low) & (score < high)
        if inside.any():
            found.append(
                ReliabilityBin(
                    low=low,
                    high=min(high, 1.0),
                    rows=int(inside.sum()),
                    mean_score=float(score[inside].mean()),
                    fraud_rate=float(y_true[inside].mean()),
                )
            )
    return tuple(found)


def expected_calibration_error(bins: tuple[ReliabilityBin, ...]) -> float:
    """Mean |fraud rate - mean score| over the bins, weighted by their rows."""
    rows = sum(b.rows for b in bins)
    return sum(b.rows * abs(b.fraud_rate - b.mean_score) for b in bins) / rows if rows else 0.0


def typology_recall(
    evaluation: EvaluationSet, review_at: float, typology: npt.NDArray[np.object_] | None
) -> tuple[TypologyRecall, ...]:
    """Per fraud typology with fraud in the window: recall at the review band and at the
    top 1 % of all transactions (the same reviewed set for every typology)."""
    if typology is None:
        return ()
    fraud = evaluation.y_true == 1
    labels = np.where(fraud, typology.astype(str), LEGITIMATE)
    found = []
    for name in sorted(set(labels[fraud]) - {LEGITIMATE}):
        mine = (labels == name).astype(np.int8)
        found.append(
            TypologyRecall(
                typology=name,
                frauds=int(mine.sum()),
                recall_at_review_band=float((evaluation.score[mine == 1] >= review_at).mean()),
                recall_at_review_rate=recall_at_review_rate(
                    mine, evaluation.score, TYPOLOGY_REVIEW_RATE
                ),
            )
        )
    return tuple(found)
