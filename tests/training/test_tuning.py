from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.manifest import MANIFEST_FILE
from training.config import DEFAULT_PARAMETERS, TrainingOptions, Tuning
from training.fit import FitError
from training.pipeline import train_artifact
from training.tuning import SEARCH_SPACE, TuningResult, tune_parameters

DAY_MS = 86_400_000


def _training_rows(seed: int = 1, rows: int = 2500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features where fraud depends on two of six columns, with noise; times over 30 days."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 6)).astype(np.float32)
    logit = 2.5 * features[:, 0] - 1.5 * features[:, 1] * features[:, 2] - 4.0
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    times = np.sort(rng.integers(0, 30 * DAY_MS, rows)).astype(np.int64)
    return features, labels, times


def _tune(seed: int, trials: int = 3) -> TuningResult:
    features, labels, times = _training_rows()
    start = {**DEFAULT_PARAMETERS, "n_estimators": 40}
    return tune_parameters((features, labels), times, start, Tuning(True, trials, None, seed))


def test_tuning_with_the_same_seed_and_trials_gives_the_same_result() -> None:
    first, again = _tune(seed=3), _tune(seed=3)
    assert first == again
    assert first.trials == 3
    assert first.searched  # with this seed a trial beats the start: the search is compared too


def test_tuning_reports_each_trial_to_progress() -> None:
    features, labels, times = _training_rows()
    calls: list[int] = []
    start = {**DEFAULT_PARAMETERS, "n_estimators": 40}
    tune_parameters((features, labels), times, start, Tuning(True, 2, None, 3), calls.append)
    assert calls == [1, 1]


def test_tuning_validates_on_the_last_part_of_the_training_rows_only() -> None:
    result = _tune(seed=3, trials=1)
    times = _training_rows()[2]
    cut = times.max() + 1 - int((times.max() + 1 - times.min()) * 0.2)
    assert result.validation_rows == int((times >= cut).sum())
    assert result.fit_rows + result.validation_rows == len(times)
    assert result.validation_bounds_ms[0] >= cut
    # The best parameters are the start's with the searched values over them.
    assert set(result.searched) <= set(SEARCH_SPACE)
    assert result.parameters == {**DEFAULT_PARAMETERS, "n_estimators": 40, **result.searched}
    assert result.best_value >= result.start_value


def test_tuning_refuses_no_budget_and_a_window_without_fraud() -> None:
    features, labels, times = _training_rows()
    with pytest.raises(FitError, match="tuning needs a budget"):
        tune_parameters((features, labels), times, DEFAULT_PARAMETERS, Tuning(True, None, None))
    with pytest.raises(FitError, match="the tuning fit window has only one class"):
        tune_parameters(
            (features, np.zeros_like(labels)), times, DEFAULT_PARAMETERS, Tuning(True, 1)
        )


@pytest.mark.slow
def test_train_with_tuning_records_the_search_in_the_manifest(
    simulated_history: pd.DataFrame, tmp_path: Path
) -> None:
    options = TrainingOptions(
        gap_days=2,
        parameters={"n_estimators": 80},
        tuning=Tuning(enabled=True, trials=2, seed=5),
    )
    train_artifact(simulated_history.iloc[:15_000], tmp_path / "m", options)
    manifest = json.loads((tmp_path / "m" / MANIFEST_FILE).read_text())
    tuning = manifest["training_config"]["tuning"]
    assert (tuning["trials"], tuning["seed"], tuning["trials_budget"]) == (2, 5, 2)
    assert tuning["best_value"] >= tuning["start_value"]
    # Inside the training window: before validation and test.
    assert manifest["split"]["train"]["start"] <= tuning["validation"]["start"]
    assert tuning["validation"]["end"] <= manifest["split"]["train"]["end"]
    for name, value in tuning["searched"].items():
        assert manifest["parameters"][name] == pytest.approx(value)
    assert "Tuned: 2 trials (Optuna TPE, seed 5" in (tmp_path / "m" / "MODEL_CARD.md").read_text()
