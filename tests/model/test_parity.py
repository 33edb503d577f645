"""The parity sample at load: an artifact whose graphs were edited, hashes updated to match,
is refused naming the graph and its worst row."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest

from model.artifact import load_model
from model.errors import ModelArtifactError
from model.manifest import (
    ATTRIBUTIONS_FILE,
    MANIFEST_FILE,
    ONNX_FILE,
    PARITY_SAMPLE_FILE,
    sha256_file,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def artifact(trained_artifact: Path, tmp_path: Path) -> Path:
    """A private copy of the session's artifact, free to damage."""
    return Path(shutil.copytree(trained_artifact, tmp_path / "model"))


def _rehash(artifact: Path, name: str) -> None:
    """What someone who edits a file and wants it served does: update its sha256."""
    path = artifact / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["files"][name] = sha256_file(artifact / name)
    path.write_text(json.dumps(manifest, indent=2))


def _edit_trees(
    artifact: Path, name: str, op_type: str, change: Callable[[list[float]], None]
) -> None:
    path = artifact / name
    model = onnx.load(path)
    (node,) = [node for node in model.graph.node if node.op_type == op_type]
    weights = "class_weights" if op_type == "TreeEnsembleClassifier" else "target_weights"
    (attribute,) = [a for a in node.attribute if a.name == weights]
    values = list(attribute.floats)
    change(values)
    del attribute.floats[:]
    attribute.floats.extend(values)
    onnx.save(model, path)
    _rehash(artifact, name)


def _scale(values: list[float]) -> None:
    values[:] = [value * 1.01 for value in values]


@pytest.mark.parametrize("name", [ONNX_FILE, ATTRIBUTIONS_FILE])
def test_load_model_refuses_leaf_weights_edited_by_one_percent(artifact: Path, name: str) -> None:
    load_model(artifact)  # intact, it loads
    _edit_trees(artifact, name, "TreeEnsembleClassifier", _scale)
    pattern = rf"{name}: disagrees with parity_sample\.npz, worst at row \d+: the margin is"
    with pytest.raises(ModelArtifactError, match=pattern):
        load_model(artifact)


def _edit_largest(values: list[float]) -> None:
    largest = int(np.argmax(np.abs(values)))
    values[largest] += 0.01


def test_load_model_refuses_one_edited_attribution(artifact: Path) -> None:
    _edit_trees(artifact, ATTRIBUTIONS_FILE, "TreeEnsembleRegressor", _edit_largest)
    pattern = r"attributions\.onnx: disagrees with parity_sample\.npz, worst at row \d+: the "
    with pytest.raises(ModelArtifactError, match=pattern + r"(contribution of \w+|bias) is"):
        load_model(artifact)


def test_load_model_refuses_a_changed_calibration(artifact: Path) -> None:
    path = artifact / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["calibration"]["intercept"] += 0.01
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match=r"model\.onnx: .* the calibrated score is"):
        load_model(artifact)


def test_load_model_refuses_an_artifact_whose_manifest_drops_the_sample(artifact: Path) -> None:
    path = artifact / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    del manifest["files"][PARITY_SAMPLE_FILE]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match=r"field 'files' does not list \['parity_sample"):
        load_model(artifact)


def test_load_model_refuses_an_artifact_of_the_previous_schema(artifact: Path) -> None:
    path = artifact / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 2
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match="'schema_version' is 2; this build serves"):
        load_model(artifact)


def _rewrite_sample(artifact: Path, **arrays: np.ndarray) -> None:
    path = artifact / PARITY_SAMPLE_FILE
    with np.load(path) as archive:
        content = {name: archive[name] for name in archive.files}
    content.update(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **content)
    path.write_bytes(buffer.getvalue())
    _rehash(artifact, PARITY_SAMPLE_FILE)


def test_load_model_names_a_sample_of_the_wrong_shape(artifact: Path) -> None:
    with np.load(artifact / PARITY_SAMPLE_FILE) as archive:
        features = archive["features"]
    _rewrite_sample(artifact, features=features[:, :-1])
    with pytest.raises(ModelArtifactError, match=r"parity_sample\.npz: array 'features' is"):
        load_model(artifact)


def test_load_model_names_a_sample_that_is_no_npz(artifact: Path) -> None:
    (artifact / PARITY_SAMPLE_FILE).write_bytes(b"not a zip")
    _rehash(artifact, PARITY_SAMPLE_FILE)
    with pytest.raises(ModelArtifactError, match=r"parity_sample\.npz: not a parity sample"):
        load_model(artifact)


def test_load_model_refuses_a_sample_whose_expected_scores_were_changed(artifact: Path) -> None:
    with np.load(artifact / PARITY_SAMPLE_FILE) as archive:
        score = archive["score"].copy()
    score[7] += 1e-3
    _rewrite_sample(artifact, score=score)
    with pytest.raises(ModelArtifactError, match="worst at row 7: the calibrated score"):
        load_model(artifact)
