"""Hyperparameter search: Optuna's TPE sampler, seeded, on a time-ordered validation inside the
training window, within a budget of trials or minutes.

Between the split and the final fit in `training.pipeline`: the earlier part of the training
window fits each trial, its last part scores it (average precision); the validation and test
windows are never seen. The parameters that score best, the starting ones included, then train
the model like any others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score

from training.config import Tuning
from training.fit import FitError, Labels, Matrix, fit_classifier
from training.split import split_tail

Ints = npt.NDArray[np.int64]
METRIC = "average_precision"
# Searched: (low, high, log scale); whole numbers where the bounds are ints.
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "n_estimators": (100, 1000, True),
    "max_depth": (3, 10, False),
    "learning_rate": (0.01, 0.3, True),
    "subsample": (0.5, 1.0, False),
    "colsample_bytree": (0.4, 1.0, False),
    "min_child_weight": (0.5, 50.0, True),
    "reg_lambda": (0.1, 10.0, True),
    "reg_alpha": (0.0, 2.0, False),
    "gamma": (0.0, 2.0, False),
}


@dataclass(frozen=True)
class TuningResult:
    """The parameters to train with and how the search found them."""

    parameters: dict[str, Any]  # the starting parameters with the best searched values
    searched: dict[str, float | int]  # the best trial's values ({} when the start won)
    trials: int  # Optuna trials run, besides the starting parameters
    best_value: float  # average precision on the tuning validation
    start_value: float  # the same for the starting parameters
    fit_rows: int
    validation_rows: int
    validation_frauds: int
    validation_bounds_ms: tuple[int, int]


def tune_parameters(
    train: tuple[Matrix, Labels],
    ts_ms: Ints,
    start: dict[str, Any],
    tuning: Tuning,
    progress: Callable[[int], object] | None = None,
) -> TuningResult:
    """Search around `start` (resolved XGBoost parameters) on the training window's rows
    (`train`, with their times `ts_ms`). Same inputs and seed, same result, when the budget is
    a number of trials; with a budget of minutes no trial starts once they have passed."""
    import optuna  # the training extra's; imported here so that `riskscore --help` stays quick

    if tuning.trials is None and tuning.minutes is None:
        raise FitError("tuning needs a budget: a number of trials, of minutes, or both")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    began = time.monotonic()
    fit_at, check_at = split_tail(ts_ms, tuning.validation_fraction)
    if not fit_at.size:
        raise FitError("the tuning fit window is empty; give a smaller tuning validation share")
    fit, check = ((train[0][at], train[1][at]) for at in (fit_at, check_at))

    def score(parameters: dict[str, Any]) -> float:
        names = ("tuning fit", "tuning validation")
        classifier = fit_classifier(fit, check, parameters, window_names=names)
        return float(average_precision_score(check[1], classifier.predict_proba(check[0])[:, 1]))

    start_value = score(start)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=tuning.seed)
    )

    remaining = None if tuning.minutes is None else tuning.minutes * 60 - (time.monotonic() - began)
    if remaining is None or remaining > 0:
        study.optimize(
            lambda trial: score({**start, **_suggest(trial)}),
            n_trials=tuning.trials,
            timeout=remaining,
            callbacks=[_Advance(progress)],
        )
    return _result(study, start, start_value, fit, check, ts_ms[check_at])


@dataclass(frozen=True)
class _Advance:
    """Optuna's callback after each trial: one step of `progress`."""

    progress: Callable[[int], object] | None

    def __call__(self, _study: object, _trial: object) -> None:
        if self.progress is not None:
            self.progress(1)


def _suggest(trial: Any) -> dict[str, float | int]:
    values: dict[str, float | int] = {}
    for name, (low, high, log) in SEARCH_SPACE.items():
        if isinstance(low, int) and isinstance(high, int):
            values[name] = trial.suggest_int(name, low, high, log=log)
        else:
            values[name] = trial.suggest_float(name, low, high, log=log)
    return values


def _result(
    study: Any,
    start: dict[str, Any],
    start_value: float,
    fit: tuple[Matrix, Labels],
    check: tuple[Matrix, Labels],
    check_ms: Ints,
) -> TuningResult:
    done = [trial for trial in study.trials if trial.value is not None]
    best = max(done, key=lambda trial: trial.value, default=None)
    won = best is not None and best.value > start_value
    searched: dict[str, float | int] = dict(best.params) if won and best else {}
    return TuningResult(
        parameters={**start, **searched},
        searched=searched,
        trials=len(done),
        best_value=float(best.value) if won and best else start_value,
        start_value=start_value,
        fit_rows=len(fit[1]),
        validation_rows=len(check[1]),
        validation_frauds=int(check[1].sum()),
        validation_bounds_ms=(int(check_ms.min()), int(check_ms.max()) + 1),
    )
