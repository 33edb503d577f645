from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import pytest
import xgboost as xgb

from feature_store.definitions import FEATURE_NAMES
from model.calibration import calibrate
from model.errors import ModelArtifactError
from model.manifest import MANIFEST_FILE, PARITY_SAMPLE_FILE, XGBOOST_FILE, Calibration
from model.parity import read_parity_sample, save_parity_sample
from training.attributions import tree_count
from training.parity_sample import build_parity_sample

Rows = npt.NDArray[np.float32]


def _sample(artifact: Path) -> dict[str, np.ndarray]:
    with np.load(artifact / PARITY_SAMPLE_FILE) as archive:
        return {name: archive[name] for name in archive.files}


class _Tree(TypedDict):
    """The parts of a tree of XGBoost's JSON model the tests read."""

    split_indices: list[int]
    split_conditions: list[float]
    left_children: list[int]


def _trees(classifier: xgb.XGBClassifier) -> list[_Tree]:
    learner = json.loads(classifier.get_booster().save_raw("json"))["learner"]
    trees: list[_Tree] = learner["gradient_booster"]["model"]["trees"]
    return trees[: tree_count(classifier)]


def _leaves_reached(classifier: xgb.XGBClassifier, rows: Rows) -> tuple[int, int]:
    trees = _trees(classifier)
    leaf = classifier.get_booster().predict(
        xgb.DMatrix(rows), pred_leaf=True, iteration_range=(0, len(trees))
    )
    reached = {(t, int(node)) for t, column in enumerate(leaf.T) for node in column}
    total = sum(children.count(-1) for children in (t["left_children"] for t in trees))
    return len(reached), total


def check_sample_reaches_every_leaf_with_xgboosts_outputs(artifact: Path) -> None:
    """The artifact's parity sample against its own XGBoost model, recomputed here."""
    sample = _sample(artifact)
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    classifier = xgb.XGBClassifier()
    classifier.load_model(artifact / XGBOOST_FILE)
    rows = sample["features"]
    reached, total = _leaves_reached(classifier, rows)
    assert reached == total == manifest["parity_sample"]["leaves_reached"]
    assert manifest["parity_sample"]["rows"] == len(rows)
    trees = tree_count(classifier)
    booster = classifier.get_booster()
    margin = booster.predict(xgb.DMatrix(rows), output_margin=True, iteration_range=(0, trees))
    np.testing.assert_array_equal(sample["margin"], margin)
    calibration = Calibration(**manifest["calibration"])
    # The score goes through numpy's exp, whose last bit depends on the CPU's vector unit and
    # numpy's build: equal to within a few units in the last place, not bit for bit.
    rescored = calibrate(calibration, margin.astype(float))
    np.testing.assert_allclose(sample["score"], rescored, rtol=1e-13, atol=0)
    contributions = booster.predict(
        xgb.DMatrix(rows), pred_contribs=True, approx_contribs=True, iteration_range=(0, trees)
    )
    np.testing.assert_array_equal(sample["contributions"], contributions)


@pytest.mark.slow
def test_parity_sample_reaches_every_leaf_with_xgboosts_own_outputs(
    trained_artifact: Path,
) -> None:
    check_sample_reaches_every_leaf_with_xgboosts_outputs(trained_artifact)


@pytest.mark.slow
def test_parity_sample_holds_missing_and_edge_values(trained_artifact: Path) -> None:
    rows = _sample(trained_artifact)["features"]
    assert np.isnan(rows).all(axis=1).any()
    assert (rows == 0).all(axis=1).any()
    assert (rows == np.finfo(np.float32).max).all(axis=1).any()
    assert (np.isnan(rows).any(axis=1) & ~np.isnan(rows).all(axis=1)).sum() >= 10
    classifier = xgb.XGBClassifier()
    classifier.load_model(trained_artifact / XGBOOST_FILE)
    splits = {
        (feature, np.float32(threshold))
        for tree in _trees(classifier)
        for feature, threshold, left in zip(
            tree["split_indices"], tree["split_conditions"], tree["left_children"], strict=True
        )
        if left != -1
    }
    at_threshold = sum(1 for feature, threshold in splits if (rows[:, feature] == threshold).any())
    assert at_threshold > 0


def _classifier(rng: np.random.Generator) -> tuple[xgb.XGBClassifier, Rows]:
    x = rng.normal(size=(3000, 5)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    y = (np.nan_to_num(x[:, 0]) + np.isnan(x[:, 1]) + rng.normal(size=3000) > 1).astype(np.int8)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=4, random_state=1)
    model.fit(x, y)
    return model, x


def test_parity_sample_without_test_rows_reaches_every_leaf_by_construction() -> None:
    classifier, _ = _classifier(np.random.default_rng(3))
    calibration = Calibration(slope=1.0, intercept=0.0)
    empty = np.empty((0, 5), dtype=np.float32)
    sample, summary = build_parity_sample(classifier, calibration, empty)
    assert summary.constructed == summary.rows == len(sample.features)
    reached, total = _leaves_reached(classifier, sample.features)
    assert summary.leaves_reached == summary.leaves == reached == total


def test_parity_sample_file_round_trips_exactly_and_reproducibly(tmp_path: Path) -> None:
    classifier, x = _classifier(np.random.default_rng(4))
    calibration = Calibration(slope=1.1, intercept=-0.1)
    sample, _ = build_parity_sample(classifier, calibration, x[:500])
    save_parity_sample(sample, tmp_path / "a.npz")
    save_parity_sample(sample, tmp_path / "b.npz")
    content = (tmp_path / "a.npz").read_bytes()
    assert content == (tmp_path / "b.npz").read_bytes()
    read = read_parity_sample(tmp_path / "a.npz", content, features=5)
    for name in ("features", "margin", "score", "contributions"):
        np.testing.assert_array_equal(getattr(read, name), getattr(sample, name))
    with pytest.raises(ModelArtifactError, match=r"a\.npz: array 'features' is float32"):
        read_parity_sample(tmp_path / "a.npz", content, features=len(FEATURE_NAMES))
