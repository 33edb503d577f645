"""Fitting: XGBoost with early stopping on the validation window, then Platt calibration.

training set -> XGBoost (early stopping on validation average precision) -> margins on
validation -> Platt calibration; suggested score bands are fraud probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import xgboost as xgb
from sklearn.linear_model import LogisticRegression

from model.manifest import Calibration, ScoreBands

Matrix = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int8]

DEFAULT_PARAMETERS: dict[str, Any] = {
    "n_estimators": 300,
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 2.0,
    "tree_method": "hist",
    "objective": "binary:logistic",
    "eval_metric": "aucpr",
    "early_stopping_rounds": 30,
    "random_state": 7,
    "n_jobs": 2,
}
# Scores are calibrated fraud probabilities, so a band is the fraud probability at which an
# action pays: review at one chance in ten, challenge at even odds, decline at nine in ten.
SUGGESTED_BANDS = ScoreBands(review_at=0.10, challenge_at=0.50, decline_at=0.90)


class FitError(ValueError):
    """The training data cannot fit a model (for example, no fraud in a window)."""


@dataclass(frozen=True)
class FittedModel:
    classifier: xgb.XGBClassifier
    calibration: Calibration
    bands: ScoreBands
    best_iteration: int


def fit_model(
    train: tuple[Matrix, Labels],
    validation: tuple[Matrix, Labels],
    parameters: dict[str, Any] | None = None,
) -> FittedModel:
    """Fit on `train`, stop early and calibrate on `validation` (each: features, labels)."""
    for name, (_, labels) in (("training", train), ("validation", validation)):
        if labels.min() == labels.max():
            raise FitError(f"the {name} window has only one class; it needs fraud and legit rows")
    classifier = xgb.XGBClassifier(**(parameters or DEFAULT_PARAMETERS))
    classifier.fit(*train, eval_set=[validation], verbose=False)
    margin = classifier.predict(validation[0], output_margin=True).astype(np.float64)
    calibration = _platt(margin, validation[1])
    return FittedModel(classifier, calibration, SUGGESTED_BANDS, int(classifier.best_iteration))


def _platt(margin: npt.NDArray[np.float64], labels: Labels) -> Calibration:
    regression = LogisticRegression(max_iter=1000)
    regression.fit(margin.reshape(-1, 1), labels)
    return Calibration(
        slope=float(regression.coef_[0, 0]), intercept=float(regression.intercept_[0])
    )
