from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from feature_store.offline import compute_features
from history.io import normalise, save_history
from history.schema import REQUIRED_COLUMNS
from model.artifact import load_model
from model.manifest import MANIFEST_FILE, sha256_file
from tests.conftest import write_key_pair
from training.fit import FitError
from training.pipeline import TrainingOptions, train_artifact
from training.predict import predict_history

pytestmark = pytest.mark.slow


def test_train_writes_a_complete_verified_artifact(trained_artifact: Path) -> None:
    manifest = json.loads((trained_artifact / MANIFEST_FILE).read_text())
    assert manifest["features"] == list(FEATURE_NAMES)
    assert manifest["feature_set_version"] == FEATURE_SET_VERSION
    assert manifest["parity"]["max_abs_diff"] <= 1e-5
    for name, digest in manifest["files"].items():
        assert sha256_file(trained_artifact / name) == digest
    assert {"model.onnx", "model.json", "MODEL_CARD.md", "roc_curve.png"} <= set(manifest["files"])
    split = manifest["split"]
    assert split["train"]["end"] <= split["validation"]["start"]
    assert split["validation"]["end"] < split["test"]["start"]


def test_train_learns_the_simulated_typologies(trained_artifact: Path) -> None:
    test = json.loads((trained_artifact / MANIFEST_FILE).read_text())["metrics"]["test"]
    # Far above chance (0.5 AUC, the fraud rate for average precision).
    assert test["roc_auc"] > 0.9
    assert test["average_precision"] > 10 * test["fraud_rate"]


def test_predict_scores_with_the_onnx_model_and_calibration(
    trained_artifact: Path, simulated_history: pd.DataFrame
) -> None:
    model = load_model(trained_artifact)
    sample = simulated_history.iloc[-3000:]
    scores = predict_history(sample, model)
    assert scores["transaction_id"].tolist() == sample["transaction_id"].tolist()
    assert scores["score"].between(0, 1).all()
    fraud = sample["is_fraud"].to_numpy() == 1
    assert scores["score"][fraud].mean() > 5 * scores["score"][~fraud].mean()


def test_cli_trains_and_predicts_on_a_history_with_only_required_columns(
    simulated_history: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "history.csv"
    save_history(simulated_history[[*REQUIRED_COLUMNS, "is_fraud"]], data)
    cli = [sys.executable, "-m", "riskscore.cli"]
    private, public = write_key_pair(tmp_path, "release")
    trained = subprocess.run(
        [*cli, "train", "--data", str(data), "--out", str(tmp_path / "model"), "--gap-days", "3"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "RISKSCORE_MODEL_SIGNING_KEY_FILE": str(private)},
    )
    assert trained.returncode == 0, trained.stderr
    assert "signed" in trained.stderr
    assert load_model(tmp_path / "model", verify_key_file=public).manifest.parity_sample.rows
    out = tmp_path / "scores.parquet"
    predicted = subprocess.run(
        [
            *cli,
            "predict",
            "--model",
            str(tmp_path / "model"),
            "--data",
            str(data),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert predicted.returncode == 0, predicted.stderr
    scores = pd.read_parquet(out)
    assert len(scores) == len(simulated_history)
    assert scores["score"].notna().all()


def test_cli_train_refuses_an_unreadable_signing_key_before_training(tmp_path: Path) -> None:
    garbage = tmp_path / "key.pem"
    garbage.write_text("not a key")
    train = [sys.executable, "-m", "riskscore.cli", "train", "--data", str(tmp_path / "h.csv")]
    result = subprocess.run(
        [*train, "--signing-key-file", str(garbage)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"--signing-key-file {garbage}: not an unencrypted PEM private key" in result.stderr


def test_train_is_reproducible(simulated_history: pd.DataFrame, tmp_path: Path) -> None:
    small = simulated_history.iloc[:15_000]
    options = TrainingOptions(gap_days=2, parameters=None)
    first = train_artifact(small, tmp_path / "a", options)
    second = train_artifact(small, tmp_path / "b", options)
    assert first.model_version == second.model_version
    for name in ("model.onnx", "attributions.onnx", "parity_sample.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_train_refuses_unlabelled_rows_naming_the_row(simulated_history: pd.DataFrame) -> None:
    history = simulated_history.iloc[:2000].copy()
    history.loc[history.index[7], "is_fraud"] = np.nan
    with pytest.raises(FitError, match="column 'is_fraud', row 8: missing"):
        train_artifact(history, Path("/nonexistent/never-written"))


def test_features_cli_writes_every_feature(simulated_history: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "history.parquet"
    save_history(simulated_history.iloc[:3000], data)
    out = tmp_path / "features.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "riskscore.cli", "features", "--data", str(data), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    written = pd.read_parquet(out)
    assert list(written.columns) == ["transaction_id", *FEATURE_NAMES]
    expected = compute_features(normalise(simulated_history.iloc[:3000], source="x"))
    np.testing.assert_array_equal(written[list(FEATURE_NAMES)].to_numpy(), expected.to_numpy())
