from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest
import xgboost as xgb

import training.attributions
from model.manifest import ATTRIBUTIONS_FILE, MANIFEST_FILE, ONNX_FILE
from training.attributions import AttributionError, AttributionExport, export_attributions
from training.export import ONNX_INPUT, export_onnx, onnx_session

Rows = npt.NDArray[np.float32]


def _rows(rng: np.random.Generator, n: int) -> Rows:
    """Six features, a fifth of the values missing, so that default directions are taken."""
    x = rng.normal(size=(n, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan
    return x


@pytest.fixture(scope="module")
def data() -> tuple[Rows, npt.NDArray[np.int8], Rows]:
    rng = np.random.default_rng(11)
    x = _rows(rng, 4000)
    logit = 2 * np.nan_to_num(x[:, 0]) - 1.5 * np.nan_to_num(x[:, 1]) + np.isnan(x[:, 2]) - 2
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return x, y, _rows(rng, 2000)


@pytest.fixture(scope="module")
def classifier(data: tuple[Rows, npt.NDArray[np.int8], Rows]) -> xgb.XGBClassifier:
    """Stopped early, so that it predicts with fewer trees than it holds."""
    x, y, _ = data
    model = xgb.XGBClassifier(
        n_estimators=200, max_depth=4, learning_rate=0.3, early_stopping_rounds=5, random_state=1
    )
    model.fit(x[:3000], y[:3000], eval_set=[(x[3000:], y[3000:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
    return model


@pytest.fixture(scope="module")
def exported(
    classifier: xgb.XGBClassifier, data: tuple[Rows, npt.NDArray[np.int8], Rows]
) -> AttributionExport:
    x, _, _ = data
    return export_attributions(classifier, export_onnx(classifier, x).model_bytes, x)


def test_export_attributions_equal_xgboost_approx_contribs_on_fresh_rows(
    classifier: xgb.XGBClassifier,
    data: tuple[Rows, npt.NDArray[np.int8], Rows],
    exported: AttributionExport,
) -> None:
    _, _, fresh = data
    probabilities, contributions = onnx_session(exported.model_bytes).run(None, {ONNX_INPUT: fresh})
    expected = classifier.get_booster().predict(
        xgb.DMatrix(fresh, missing=np.nan),
        pred_contribs=True,
        approx_contribs=True,
        iteration_range=(0, classifier.best_iteration + 1),
    )
    assert contributions.shape == (len(fresh), fresh.shape[1] + 1)
    np.testing.assert_allclose(contributions, expected, rtol=0, atol=1e-5)
    margin = classifier.predict(fresh, output_margin=True)
    np.testing.assert_allclose(contributions.sum(axis=1), margin, rtol=0, atol=1e-4)
    proba = classifier.predict_proba(fresh)[:, 1]
    np.testing.assert_allclose(probabilities[:, 1], proba, rtol=0, atol=1e-6)


def test_export_attributions_reports_its_parity(exported: AttributionExport) -> None:
    assert exported.rows == 4000
    assert exported.max_abs_diff <= 1e-5
    assert exported.max_margin_diff <= 1e-4
    assert exported.max_probability_diff <= 1e-6


def test_export_attributions_keeps_the_classifier_node_unchanged(
    classifier: xgb.XGBClassifier,
    data: tuple[Rows, npt.NDArray[np.int8], Rows],
    exported: AttributionExport,
) -> None:
    classifier_onnx = export_onnx(classifier, data[0][:10]).model_bytes
    merged = onnx.load_model_from_string(exported.model_bytes)
    original = onnx.load_model_from_string(classifier_onnx)
    assert merged.graph.node[0] == original.graph.node[0]
    assert [output.name for output in merged.graph.output] == ["probabilities", "contributions"]
    again = export_attributions(classifier, classifier_onnx, data[0][:10])
    assert again.model_bytes == exported.model_bytes


def test_export_attributions_refuses_wrong_attributions(
    classifier: xgb.XGBClassifier,
    data: tuple[Rows, npt.NDArray[np.int8], Rows],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x = data[0][:500]
    right = training.attributions._leaf_votes

    def off_by_a_bit(*args: object, **kwargs: object) -> Iterator[tuple[int, int, float]]:
        for leaf, target, weight in right(*args, **kwargs):  # type: ignore[arg-type]
            yield leaf, target, weight + (0.001 if target == 0 else 0.0)

    monkeypatch.setattr(training.attributions, "_leaf_votes", off_by_a_bit)
    with pytest.raises(AttributionError, match=r"attributions\.onnx: contributions differ"):
        export_attributions(classifier, export_onnx(classifier, x).model_bytes, x)


def test_export_attributions_refuses_another_classifiers_onnx(
    classifier: xgb.XGBClassifier, data: tuple[Rows, npt.NDArray[np.int8], Rows]
) -> None:
    x, y, _ = data
    other = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    with pytest.raises(AttributionError, match="probabilities differ from XGBoost's by up to"):
        export_attributions(classifier, export_onnx(other, x).model_bytes, x)


def test_export_attributions_refuses_a_forest(
    classifier: xgb.XGBClassifier, data: tuple[Rows, npt.NDArray[np.int8], Rows]
) -> None:
    x, y, _ = data
    forest = xgb.XGBClassifier(n_estimators=2, num_parallel_tree=3, max_depth=2).fit(x, y)
    # The forest is refused before its ONNX is looked at.
    classifier_onnx = export_onnx(classifier, x).model_bytes
    with pytest.raises(AttributionError, match="num_parallel_tree is '3'; attributions need '1'"):
        export_attributions(forest, classifier_onnx, x)


@pytest.mark.slow
def test_train_writes_attributions_and_their_parity(trained_artifact: Path) -> None:
    manifest = json.loads((trained_artifact / MANIFEST_FILE).read_text())
    assert {ONNX_FILE, ATTRIBUTIONS_FILE} <= set(manifest["files"])
    parity = manifest["attributions"]
    assert parity["rows"] == manifest["split"]["test"]["rows"]
    assert parity["max_abs_diff"] <= parity["tolerance"] == 1e-4
    assert parity["max_margin_diff"] <= 1e-4
    assert parity["max_probability_diff"] <= manifest["parity"]["tolerance"]
