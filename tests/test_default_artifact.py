"""The committed default model: intact, trained on today's feature definitions, its ONNX
model and exact attributions agree with its XGBoost model, its parity sample reaches every
leaf, and it carries a normal range for every feature."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from feature_store.definitions import FEATURE_NAMES
from feature_store.offline import compute_features
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from model.artifact import load_model
from model.manifest import (
    ATTRIBUTIONS_FILE,
    MANIFEST_FILE,
    PARITY_SAMPLE_FILE,
    SCHEMA_VERSION,
    SIGNATURE_FILE,
    XGBOOST_FILE,
    sha256_file,
)
from tests.training.test_parity_sample import check_sample_reaches_every_leaf_with_xgboosts_outputs

DEFAULT = Path(__file__).parents[1] / "model_artifacts" / "default"


def test_default_artifact_checksums_match_its_manifest() -> None:
    manifest = json.loads((DEFAULT / MANIFEST_FILE).read_text())
    assert manifest["files"]
    for name, digest in manifest["files"].items():
        assert sha256_file(DEFAULT / name) == digest, name


def test_default_artifact_holds_checked_attributions() -> None:
    manifest = json.loads((DEFAULT / MANIFEST_FILE).read_text())
    assert ATTRIBUTIONS_FILE in manifest["files"]
    assert manifest["attributions"]["max_abs_diff"] <= manifest["attributions"]["tolerance"]


def test_default_artifact_holds_an_unsigned_parity_sample_of_this_schema() -> None:
    manifest = json.loads((DEFAULT / MANIFEST_FILE).read_text())
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert PARITY_SAMPLE_FILE in manifest["files"]
    assert manifest["parity_sample"]["leaves_reached"] == manifest["parity_sample"]["leaves"]
    assert not (DEFAULT / SIGNATURE_FILE).exists()  # signing is the deployer's, with their key


@pytest.mark.slow
def test_default_parity_sample_is_xgboosts_own_outputs_on_every_leaf() -> None:
    check_sample_reaches_every_leaf_with_xgboosts_outputs(DEFAULT)


def test_default_manifest_holds_a_normal_range_per_feature() -> None:
    manifest = json.loads((DEFAULT / MANIFEST_FILE).read_text())
    ranges = manifest["normal_ranges"]
    assert list(ranges) == list(FEATURE_NAMES)
    assert all(r["low"] <= r["high"] for r in ranges.values())
    assert ranges["amount_usd"]["low"] < ranges["amount_usd"]["high"]


def test_default_manifest_lists_the_feature_definitions_in_order() -> None:
    manifest = json.loads((DEFAULT / MANIFEST_FILE).read_text())
    assert manifest["features"] == list(FEATURE_NAMES)


@pytest.mark.slow
def test_default_onnx_agrees_with_xgboost_on_a_sample() -> None:
    model = load_model(DEFAULT)
    history = normalise(simulate(SimulationConfig(transactions=5000, days=10, seed=99)), "s")
    features = compute_features(history).to_numpy(dtype=np.float32)
    booster = xgb.XGBClassifier()
    booster.load_model(DEFAULT / XGBOOST_FILE)
    expected = booster.predict_proba(features)[:, 1]
    assert np.max(np.abs(model.raw_probabilities(features) - expected)) <= 1e-5


@pytest.mark.slow
def test_default_explanations_equal_xgboost_exact_treeshap_on_fresh_rows() -> None:
    model = load_model(DEFAULT)
    history = normalise(simulate(SimulationConfig(transactions=3000, days=10, seed=98)), "s")
    features = compute_features(history).to_numpy(dtype=np.float32)
    # Half the rows again with a third of their values missing: every default direction.
    holes = features[::2].copy()
    holes[np.random.default_rng(5).random(holes.shape) < 0.3] = np.nan
    rows = np.concatenate([features, holes])
    classifier = xgb.XGBClassifier()
    classifier.load_model(DEFAULT / XGBOOST_FILE)
    expected = classifier.get_booster().predict(
        xgb.DMatrix(rows, missing=np.nan),
        pred_contribs=True,  # exact, path-dependent TreeSHAP
        iteration_range=(0, classifier.best_iteration + 1),
    )
    margins = classifier.predict(rows, output_margin=True)
    explained = [model.explain(rows[i : i + 1]) for i in range(len(rows))]
    contributions = np.array([e.contributions for e in explained])
    np.testing.assert_allclose(contributions, expected[:, :-1], rtol=0, atol=1e-4)
    np.testing.assert_allclose([e.bias for e in explained], expected[:, -1], rtol=0, atol=1e-4)
    sums = np.array([e.bias for e in explained]) + contributions.sum(axis=1)
    np.testing.assert_allclose(sums, margins, rtol=0, atol=1e-4)
    np.testing.assert_array_equal([e.score for e in explained], model.scores(rows))
