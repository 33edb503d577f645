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
from training.config import DEFAULT_PARAMETERS

Matrix = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int8]

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
    classifier = fit_classifier(train, validation, parameters)
    margin = classifier.predict(validation[0], output_margin=True).astype(np.float64)
    calibration = _platt(margin, validation[1])
    return FittedModel(classifier, calibration, SUGGESTED_BANDS, int(classifier.best_iteration))


def fit_classifier(
    train: tuple[Matrix, Labels],
    validation: tuple[Matrix, Labels],
    parameters: dict[str, Any] | None = None,
    window_names: tuple[str, str] = ("training", "validation"),
) -> xgb.XGBClassifier:
    """XGBoost fitted on `train`, stopped early on `validation`; raises `FitError` when a
    window lacks fraud or legitimate rows (named by `window_names`)."""
    for name, (_, labels) in zip(window_names, (train, validation), strict=True):
        if labels.min() == labels.max():
            raise FitError(f"the {name} window has only one class; it needs fraud and legit rows")
    classifier = xgb.XGBClassifier(**(parameters or DEFAULT_PARAMETERS))
    classifier.fit(*train, eval_set=[validation], verbose=False)
    return classifier


def _platt(margin: npt.NDArray[np.float64], labels: Labels) -> Calibration:
    regression = LogisticRegression(max_iter=1000)
    regression.fit(margin.reshape(-1, 1), labels)
    return Calibration(
        slope=float(regression.coef_[0, 0]), intercept=float(regression.intercept_[0])
    )
