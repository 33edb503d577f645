"""Scores are calibrated fraud probabilities (docs/api.md, docs/training.md): the property itself,
on the held-out test window of a seeded history, for the artifact as the service loads it.

The history's fraud rate falls over time (a campaign in the training window that is over by
validation), as live fraud does: the trees' own probabilities then overstate fraud, and only
the calibration fitted on the recent validation window brings the scores back to the rates
observed later. Reliability is measured by score decile (observed fraud rate against mean score)
and over the whole window (mean score against fraud rate).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from feature_store.offline import compute_features, times_ms
from model.artifact import load_model
from training.pipeline import TrainingOptions, train_artifact
from training.split import split_by_time

pytestmark = pytest.mark.slow

Floats = npt.NDArray[np.float64]
OPTIONS = TrainingOptions(gap_days=3)
CAMPAIGN_FRAUD_SHARE = 0.08  # of the training window's transactions, on top of the typologies
DECILES = 10
# The bounds the calibrated scores meet on the test window of the suite's history from the
# harder simulator (measured: decile error 0.0128, mean score 0.73 of the fraud rate); the
# uncalibrated margin misses them by far (0.069 and 2.66 times), a flipped intercept by a
# little (0.018 and 0.58 times). On the simulator before the harder typologies the calibrated
# scores met 0.002 and 5 %: calibration across windows is worse now, and worth a look.
MAX_EXPECTED_CALIBRATION_ERROR = 0.015
MAX_MEAN_SCORE_RATIO_ERROR = 0.35


@dataclass(frozen=True)
class HeldOut:
    """The test window: labels, the artifact's scores and its uncalibrated margins."""

    labels: Floats
    scores: Floats
    margins: Floats


def _with_campaign(history: pd.DataFrame) -> pd.DataFrame:
    """`history` with extra frauds spread over the training window only (seeded)."""
    split = split_by_time(times_ms(history["timestamp"]), gap_days=OPTIONS.gap_days)
    rng = np.random.default_rng(11)
    campaign = split.train[rng.random(len(split.train)) < CAMPAIGN_FRAUD_SHARE]
    shifted = history.copy()
    shifted.loc[shifted.index[campaign], "is_fraud"] = 1
    return shifted


@pytest.fixture(scope="module")
def held_out(simulated_history: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> HeldOut:
    history = _with_campaign(simulated_history)
    directory = tmp_path_factory.mktemp("calibration") / "model"
    train_artifact(history, directory, OPTIONS)
    model = load_model(directory)
    split = split_by_time(times_ms(history["timestamp"]), gap_days=OPTIONS.gap_days)
    features = compute_features(history, label_delay_seconds=model.manifest.label_delay_seconds)
    rows = features.to_numpy(dtype=np.float32)[split.test]
    labels = history["is_fraud"].to_numpy(dtype=np.float64)[split.test]
    return HeldOut(labels, model.scores(rows), model.margins(rows))


def expected_calibration_error(probabilities: Floats, labels: Floats) -> float:
    """Mean over equal-count score deciles of |mean score - observed fraud rate|, weighted by
    the decile's rows."""
    order = np.argsort(probabilities, kind="stable")
    gaps = [
        len(rows) * abs(probabilities[rows].mean() - labels[rows].mean())
        for rows in np.array_split(order, DECILES)
    ]
    return float(sum(gaps) / len(probabilities))


def mean_score_ratio(probabilities: Floats, labels: Floats) -> float:
    return float(probabilities.mean() / labels.mean())


def _sigmoid(margin: Floats) -> Floats:
    result: Floats = 1.0 / (1.0 + np.exp(-margin))
    return result


def test_calibrated_scores_match_the_fraud_rates_of_the_held_out_window(held_out: HeldOut) -> None:
    assert held_out.labels.sum() >= 100  # enough frauds for the rates to mean something
    error = expected_calibration_error(held_out.scores, held_out.labels)
    assert error <= MAX_EXPECTED_CALIBRATION_ERROR
    ratio = mean_score_ratio(held_out.scores, held_out.labels)
    assert abs(ratio - 1) <= MAX_MEAN_SCORE_RATIO_ERROR


def test_uncalibrated_margin_misses_the_fraud_rates(held_out: HeldOut) -> None:
    """The trees' own probability (slope 1, intercept 0): what scores would be without the
    calibration; it fails the bounds the calibrated scores meet, so they are the calibration's
    doing, not the data's."""
    raw = _sigmoid(held_out.margins)
    assert expected_calibration_error(raw, held_out.labels) > 4 * MAX_EXPECTED_CALIBRATION_ERROR
    assert mean_score_ratio(raw, held_out.labels) > 1 + 4 * MAX_MEAN_SCORE_RATIO_ERROR


def test_reliability_by_decile_is_read_from_sorted_scores() -> None:
    """The measure itself: perfect scores give 0, scores off by a constant give that gap."""
    labels = np.array([0.0] * 90 + [1.0] * 10)
    assert expected_calibration_error(labels.copy(), labels) == 0.0
    shifted = np.clip(labels + 0.05, 0, 1)
    assert expected_calibration_error(shifted, labels) == pytest.approx(0.9 * 0.05)
    assert mean_score_ratio(np.full(100, 0.2), labels) == pytest.approx(2.0)


def test_campaign_raises_the_fraud_rate_of_the_training_window_only() -> None:
    """The fixture's premise: the campaign's frauds fall in the training window, none later."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=3000, freq="20min", tz="UTC"),
            "is_fraud": np.zeros(3000),
        }
    )
    shifted = _with_campaign(frame)
    split = split_by_time(times_ms(frame["timestamp"]), gap_days=OPTIONS.gap_days)
    train_rate = shifted["is_fraud"].to_numpy()[split.train].mean()
    assert train_rate == pytest.approx(CAMPAIGN_FRAUD_SHARE, abs=0.02)
    assert shifted["is_fraud"].to_numpy()[split.validation].sum() == 0
    assert shifted["is_fraud"].to_numpy()[split.test].sum() == 0
