"""Reasons the default model gives on real scored rows say what the values behind them show."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from feature_store.definitions import FEATURE_NAMES
from feature_store.offline import compute_features
from model.artifact import Model, load_model
from model.manifest import XGBOOST_FILE
from model.reasoning import model_reasons, sides
from model.reasons import REASON_CODES, Side

pytestmark = pytest.mark.slow

DEFAULT = Path(__file__).parents[2] / "model_artifacts" / "default"
INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(DEFAULT)


@pytest.fixture(scope="module")
def explained(model: Model, simulated_history: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """(values, exact contributions) of the 400 highest-scored rows of a simulated history,
    and of 200 rows scored below the review band."""
    rows = compute_features(simulated_history).to_numpy(dtype=np.float32)
    scores = model.scores(rows)
    order = np.argsort(-scores)
    picked = np.concatenate([order[:400], order[-200:]])
    return [
        (rows[i].astype(np.float64), model.explain(rows[i : i + 1]).contributions) for i in picked
    ]


def test_every_reason_on_real_rows_agrees_with_the_values_behind_it(
    model: Model, explained: list[tuple[np.ndarray, np.ndarray]]
) -> None:
    given = 0
    for values, contributions in explained:
        side = sides(values, model.normal_low, model.normal_high)
        for reason in model_reasons(contributions, values, model.normal_low, model.normal_high):
            named = REASON_CODES[reason.code].features
            assert reason.contributions and reason.weight > 0
            assert sum(reason.contributions.values()) == pytest.approx(reason.weight)
            for feature, pushed in reason.contributions.items():
                i = INDEX[feature]
                assert pushed > 0 and pushed == contributions[i]
                at = list(Side)[side[i]] if side[i] >= 0 else None
                known = not np.isnan(values[i])
                assert any(
                    pattern_side is at or (pattern_side is Side.ANY and known)
                    for pattern, pattern_side in named
                    if fnmatchcase(feature, pattern)
                ), (reason.code, feature, values[i])
            if reason.code == "AMOUNT_HIGH":
                assert values[INDEX["amount_usd"]] >= model.normal_high[INDEX["amount_usd"]]
            if reason.code == "AMOUNT_LOW":
                assert values[INDEX["amount_usd"]] <= model.normal_low[INDEX["amount_usd"]]
            if reason.code == "DEVICE_VELOCITY":
                behind = [f for f in reason.contributions if f.startswith("device_txn_count_")]
                assert all(values[INDEX[f]] > 0 for f in behind)
            given += 1
    assert given > 300  # the high-scored rows do get reasons


def test_exact_contributions_equal_xgboosts_treeshap_on_real_rows(
    explained: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    rows = np.array([values for values, _ in explained[:100]], dtype=np.float32)
    classifier = xgb.XGBClassifier()
    classifier.load_model(DEFAULT / XGBOOST_FILE)
    expected = classifier.get_booster().predict(
        xgb.DMatrix(rows, missing=np.nan),
        pred_contribs=True,
        iteration_range=(0, classifier.best_iteration + 1),
    )
    ours = np.array([contributions for _, contributions in explained[:100]])
    np.testing.assert_allclose(ours, expected[:, :-1], rtol=0, atol=1e-5)
