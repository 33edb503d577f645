"""The committed default model: intact, trained on today's feature definitions, and its ONNX
model agrees with its XGBoost model."""

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
from scoring.manifest import MANIFEST_FILE, XGBOOST_FILE, sha256_file
from scoring.model import load_model

DEFAULT = Path(__file__).parents[1] / "model_artifacts" / "default"


def test_default_artifact_checksums_match_its_manifest() -> None:
    manifest = json.loads((DEFAULT / MANIFEST_FILE).read_text())
    assert manifest["files"]
    for name, digest in manifest["files"].items():
        assert sha256_file(DEFAULT / name) == digest, name


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
