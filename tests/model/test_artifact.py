from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from feature_store.definitions import FEATURE_NAMES
from feature_store.offline import compute_features
from model.artifact import load_model
from model.calibration import calibrate
from model.errors import ModelArtifactError
from model.manifest import ATTRIBUTIONS_FILE, MANIFEST_FILE, ONNX_FILE, XGBOOST_FILE, sha256_file

pytestmark = pytest.mark.slow


@pytest.fixture
def artifact(trained_artifact: Path, tmp_path: Path) -> Path:
    """A private copy of the session's artifact, free to damage."""
    return Path(shutil.copytree(trained_artifact, tmp_path / "model"))


def _edit_manifest(artifact: Path, change: dict[str, object]) -> None:
    path = artifact / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest.update(change)
    path.write_text(json.dumps(manifest))


def test_load_model_scores_in_manifest_order(
    artifact: Path, simulated_history: pd.DataFrame
) -> None:
    """Column i of a row is the manifest's feature i: the scores are XGBoost's own on the named
    feature columns, calibrated, and a row with two columns swapped scores differently."""
    model = load_model(artifact)
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    assert model.version == manifest["model_version"]
    named = compute_features(simulated_history).iloc[-2000:]
    rows = named[manifest["features"]].to_numpy(dtype=np.float32)
    classifier = xgb.XGBClassifier()
    classifier.load_model(artifact / XGBOOST_FILE)
    margins = classifier.predict(rows, output_margin=True).astype(np.float64)
    expected = calibrate(model.manifest.calibration, margins)
    np.testing.assert_allclose(model.scores(rows), expected, rtol=1e-4, atol=1e-6)
    importance = classifier.get_booster().get_score(importance_type="gain")
    first, second = sorted(importance, key=importance.__getitem__)[-2:]  # "f12", "f3", ...
    swapped = rows.copy()
    i, j = int(first[1:]), int(second[1:])
    swapped[:, [i, j]] = swapped[:, [j, i]]
    assert np.abs(model.scores(swapped) - model.scores(rows)).max() > 0.01


def test_load_model_refuses_a_changed_file(artifact: Path) -> None:
    with (artifact / ONNX_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelArtifactError, match=r"model\.onnx: sha256 differs"):
        load_model(artifact)


def test_load_model_names_an_invalid_manifest_field(artifact: Path) -> None:
    _edit_manifest(artifact, {"calibration": {"method": "platt", "slope": "steep"}})
    with pytest.raises(ModelArtifactError, match=r"manifest\.json: field 'calibration\.slope'"):
        load_model(artifact)


def test_load_model_names_the_line_of_broken_json(artifact: Path) -> None:
    (artifact / MANIFEST_FILE).write_text('{\n  "model_version": "x",\n  oops\n}')
    with pytest.raises(ModelArtifactError, match="line 3: invalid JSON"):
        load_model(artifact)


def test_load_model_refuses_other_feature_definitions(artifact: Path) -> None:
    reordered = [FEATURE_NAMES[1], FEATURE_NAMES[0], *FEATURE_NAMES[2:]]
    _edit_manifest(artifact, {"features": reordered})
    with pytest.raises(ModelArtifactError, match="does not match this build's feature"):
        load_model(artifact)
    _edit_manifest(artifact, {"features": list(FEATURE_NAMES), "feature_set_version": "fs-0"})
    with pytest.raises(ModelArtifactError, match="retrain the model on the current"):
        load_model(artifact)


def test_load_model_explains_a_folder_that_is_no_artifact(tmp_path: Path) -> None:
    with pytest.raises(ModelArtifactError, match="no manifest"):
        load_model(tmp_path)


def test_explain_gives_xgboost_exact_treeshap_and_scores_as_scores(
    artifact: Path, simulated_history: pd.DataFrame
) -> None:
    model = load_model(artifact)
    rows = compute_features(simulated_history).to_numpy(dtype=np.float32)[-1500:]
    assert np.isnan(rows).any()
    classifier = xgb.XGBClassifier()
    classifier.load_model(artifact / XGBOOST_FILE)
    expected = classifier.get_booster().predict(
        xgb.DMatrix(rows, missing=np.nan),
        pred_contribs=True,  # exact, path-dependent TreeSHAP
        iteration_range=(0, classifier.best_iteration + 1),
    )
    margins = classifier.predict(rows, output_margin=True)
    scores = model.scores(rows)
    for i in range(len(rows)):
        explanation = model.explain(rows[i : i + 1])
        assert explanation.score == scores[i]
        assert explanation.contributions.shape == (len(FEATURE_NAMES),)
        assert explanation.contributions.dtype == np.float64
        np.testing.assert_allclose(explanation.contributions, expected[i, :-1], atol=1e-4)
        assert explanation.bias == pytest.approx(expected[i, -1], abs=1e-4)
        assert explanation.margin == pytest.approx(margins[i], abs=1e-4)
        total = explanation.bias + explanation.contributions.sum()
        assert total == pytest.approx(explanation.margin, abs=1e-9)


def test_load_model_refuses_a_changed_attributions_file(artifact: Path) -> None:
    with (artifact / ATTRIBUTIONS_FILE).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelArtifactError, match=r"attributions\.onnx: sha256 differs"):
        load_model(artifact)


def test_load_model_names_an_attributions_file_onnx_runtime_refuses(artifact: Path) -> None:
    path = artifact / ATTRIBUTIONS_FILE
    path.write_bytes(path.read_bytes()[:1000])
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    _edit_manifest(artifact, {"files": {**manifest["files"], ATTRIBUTIONS_FILE: sha256_file(path)}})
    with pytest.raises(ModelArtifactError, match=r"attributions\.onnx: ONNX Runtime refused it"):
        load_model(artifact)


def test_load_model_refuses_attributions_without_their_outputs(artifact: Path) -> None:
    shutil.copy(artifact / ONNX_FILE, artifact / ATTRIBUTIONS_FILE)
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    digest = sha256_file(artifact / ATTRIBUTIONS_FILE)
    _edit_manifest(artifact, {"files": {**manifest["files"], ATTRIBUTIONS_FILE: digest}})
    with pytest.raises(ModelArtifactError, match=r"attributions\.onnx: outputs are \['label'"):
        load_model(artifact)


def test_load_model_refuses_a_manifest_without_attribution_parity(artifact: Path) -> None:
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    del manifest["attributions"]
    (artifact / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match="field 'attributions': Field required"):
        load_model(artifact)


def test_load_model_refuses_a_manifest_without_normal_ranges(artifact: Path) -> None:
    path = artifact / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    del manifest["normal_ranges"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match=r"manifest\.json: field 'normal_ranges'"):
        load_model(artifact)


def test_load_model_refuses_normal_ranges_that_are_invalid_or_incomplete(artifact: Path) -> None:
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    ranges = manifest["normal_ranges"]
    upside_down = {**ranges, "amount_usd": {"low": 90.0, "high": 20.0}}
    _edit_manifest(artifact, {"normal_ranges": upside_down})
    with pytest.raises(ModelArtifactError, match=r"'normal_ranges\.amount_usd': .*low 90"):
        load_model(artifact)
    _edit_manifest(artifact, {"normal_ranges": {**ranges, "amount_usd": {"low": 1.0}}})
    with pytest.raises(ModelArtifactError, match=r"'normal_ranges\.amount_usd\.high'"):
        load_model(artifact)
    short = {name: value for name, value in ranges.items() if name != "card_txn_count_1h"}
    _edit_manifest(artifact, {"normal_ranges": short})
    with pytest.raises(ModelArtifactError, match=r"'normal_ranges'.*absent: \['card_txn_count_1h'"):
        load_model(artifact)


def test_load_model_refuses_trees_that_do_not_add_up_to_the_exported_margin(
    artifact: Path,
) -> None:
    """A model.json with a changed leaf (its hash updated to match) gives another margin than
    the parity sample's: exact TreeSHAP is refused, naming the file."""
    path = artifact / XGBOOST_FILE
    document = json.loads(path.read_text())
    tree = document["learner"]["gradient_booster"]["model"]["trees"][0]
    leaves = [i for i, left in enumerate(tree["left_children"]) if left == -1]
    for leaf in leaves:
        tree["split_conditions"][leaf] += 0.5
    path.write_text(json.dumps(document))
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    _edit_manifest(artifact, {"files": {**manifest["files"], XGBOOST_FILE: sha256_file(path)}})
    with pytest.raises(ModelArtifactError, match=r"model\.json: disagrees with parity_sample"):
        load_model(artifact)


def test_load_model_refuses_trees_of_another_kind(artifact: Path) -> None:
    path = artifact / XGBOOST_FILE
    document = json.loads(path.read_text())
    document["learner"]["objective"]["name"] = "reg:squarederror"
    path.write_text(json.dumps(document))
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    _edit_manifest(artifact, {"files": {**manifest["files"], XGBOOST_FILE: sha256_file(path)}})
    with pytest.raises(
        ModelArtifactError, match=r"model\.json: field 'learner\.objective\.name' is"
    ):
        load_model(artifact)
