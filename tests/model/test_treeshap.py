from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import xgboost as xgb

from feature_store.definitions import FEATURE_NAMES
from model.errors import ModelArtifactError
from model.reasoning import ModelReason, explained_reasons, model_reasons
from model.shap_tables import GROUP_NODES
from model.treeshap import TreeShap

Floats = npt.NDArray[np.float32]


def _data(features: int, rows: int, seed: int) -> tuple[Floats, npt.NDArray[np.int64]]:
    """Rows with missing values, a few repeated values (ties on thresholds) and a label that
    needs several splits on the same features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    x[:, 1] = np.round(x[:, 1])
    y = ((x[:, 0] > 0.3) ^ (np.abs(x[:, 1]) > 1) | (x[:, 2] * x[:, 3] > 0.5)).astype(np.int64)
    x[rng.random(x.shape) < 0.15] = np.nan
    return x, y


def _shap(tmp_path: Path, model: xgb.XGBClassifier, features: int) -> TreeShap:
    path = tmp_path / "model.json"
    model.save_model(path)
    trees = model.get_booster().num_boosted_rounds()
    return TreeShap.from_xgboost(path, path.read_bytes(), features, trees)


@pytest.mark.parametrize(
    ("features", "parameters"),
    [
        (6, {"max_depth": 1}),
        (6, {"max_depth": 3}),
        (6, {"max_depth": 6}),
        (6, {"max_depth": 9}),  # more than 64 internal nodes a tree
        (24, {"max_depth": 11}),  # nodes too deep for a group of 3: smaller groups
        (6, {"max_depth": 0, "grow_policy": "lossguide", "max_leaves": 24}),  # ids not by depth
    ],
)
def test_contributions_equal_xgboosts_exact_treeshap(
    tmp_path: Path, features: int, parameters: dict[str, object]
) -> None:
    """Every split kind the tables handle: a feature split again lower on the path, missing
    values sent either way, values equal to a threshold, small and large groups."""
    x, y = _data(features, 3000, seed=3)
    model = xgb.XGBClassifier(n_estimators=30, learning_rate=0.3, tree_method="hist", **parameters)
    model.fit(x, y)
    shap = _shap(tmp_path, model, features)
    fresh, _ = _data(features, 400, seed=4)
    fresh[::7] = x[::7][: len(fresh[::7])]  # rows whose values sit on thresholds too
    expected = model.get_booster().predict(xgb.DMatrix(fresh, missing=np.nan), pred_contribs=True)
    ours = np.array([shap.contributions(fresh[i : i + 1]) for i in range(len(fresh))])
    np.testing.assert_allclose(ours, expected[:, :-1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(shap.bias, expected[0, -1], rtol=0, atol=1e-5)
    assert np.array_equal(ours, ours.astype(np.float32))  # rounded to float32


def test_groups_hold_several_leaves_each(tmp_path: Path) -> None:
    """Fewer table reads than leaves: the point of grouping."""
    x, y = _data(6, 3000, seed=3)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=6).fit(x, y)
    shap = _shap(tmp_path, model, 6)
    trees = json.loads(model.get_booster().save_raw("json"))["learner"]["gradient_booster"]
    leaves = sum(t["left_children"].count(-1) for t in trees["model"]["trees"])
    assert len(shap.groups.root) * 2 < leaves
    assert shap.groups.inner.shape[1] == GROUP_NODES


def test_from_xgboost_names_a_split_beyond_the_features(tmp_path: Path) -> None:
    x, y = _data(6, 500, seed=3)
    model = xgb.XGBClassifier(n_estimators=3, max_depth=3).fit(x, y)
    document = json.loads(model.get_booster().save_raw("json"))
    document["learner"]["gradient_booster"]["model"]["trees"][1]["split_indices"][0] = 6
    path = tmp_path / "model.json"
    path.write_text(json.dumps(document))
    with pytest.raises(
        ModelArtifactError, match=r"model\.json: a tree splits on a feature beyond 6"
    ):
        TreeShap.from_xgboost(path, path.read_bytes(), 6, 3)


def test_explained_reasons_are_model_reasons_of_the_contributions(tmp_path: Path) -> None:
    """One compiled call gives what the two steps give: the same contributions, codes,
    weights and features behind them."""
    features = len(FEATURE_NAMES)
    x, y = _data(features, 2000, seed=8)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=5).fit(x, y)
    shap = _shap(tmp_path, model, features)
    rng = np.random.default_rng(9)
    low, high = np.full(features, -0.5), np.full(features, 0.5)
    for i in range(200):
        row = x[i : i + 1]
        values = row[0].astype(np.float64) + rng.normal(scale=1e-3, size=features)
        contributions, reasons = explained_reasons(shap, row, values, low, high, top=4)
        np.testing.assert_array_equal(contributions, shap.contributions(row))
        assert reasons == model_reasons(contributions, values, low, high, top=4)


def test_explained_reasons_refuses_a_row_of_another_shape(tmp_path: Path) -> None:
    features = len(FEATURE_NAMES)
    x, y = _data(features, 500, seed=8)
    shap = _shap(tmp_path, xgb.XGBClassifier(n_estimators=2, max_depth=2).fit(x, y), features)
    low, high = np.zeros(features), np.ones(features)
    with pytest.raises(ValueError, match=rf"float32 of shape \(1, {features}\)"):
        explained_reasons(shap, x[:2], x[0].astype(np.float64), low, high)


def test_explained_reasons_from_several_threads_at_once(tmp_path: Path) -> None:
    """The kernel runs without the GIL and each thread reuses buffers of its own: threads
    calling at once get what one thread gets."""
    features = len(FEATURE_NAMES)
    x, y = _data(features, 1000, seed=8)
    shap = _shap(tmp_path, xgb.XGBClassifier(n_estimators=20, max_depth=5).fit(x, y), features)
    low, high = np.full(features, -0.5), np.full(features, 0.5)

    def explain(i: int) -> list[ModelReason]:
        row = x[i : i + 1]
        return explained_reasons(shap, row, row[0].astype(np.float64), low, high, top=2 + i % 3)[1]

    alone = [explain(i) for i in range(400)]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(explain, range(400))) == alone
