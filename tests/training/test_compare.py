from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from history.io import save_history
from model.errors import ModelArtifactError
from model.manifest import MANIFEST_FILE
from training.compare import compare_models
from training.compare_report import PR_CHART, REPORT_FILE, metric_rows, write_report
from training.metrics import card_precision_at_k

pytestmark = pytest.mark.slow
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def other_artifact(
    simulated_history: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A second, weaker model: fewer, shallower trees on the first half of the history."""
    from training.config import TrainingOptions
    from training.pipeline import train_artifact

    out = tmp_path_factory.mktemp("other") / "model"
    options = TrainingOptions(gap_days=2, parameters={"n_estimators": 20, "max_depth": 2})
    train_artifact(simulated_history.iloc[:20_000], out, options)
    return out


def test_compare_scores_both_models_on_the_same_window(
    trained_artifact: Path, other_artifact: Path, simulated_history: pd.DataFrame, tmp_path: Path
) -> None:
    tail = simulated_history.iloc[-8000:]
    start = tail["timestamp"].min().date()
    comparison = compare_models((trained_artifact, other_artifact), simulated_history, start)
    window = simulated_history["timestamp"].dt.date >= start
    assert comparison.transactions == int(window.sum())
    assert comparison.frauds == int(simulated_history["is_fraud"][window].sum())
    first, second = comparison.first, comparison.second
    assert np.array_equal(first.evaluation.y_true, second.evaluation.y_true)
    assert not np.array_equal(first.evaluation.score, second.evaluation.score)
    rows = metric_rows(comparison)
    assert [name for name, _, _ in rows] == [
        "ROC AUC",
        "Average precision",
        "Recall at review rate 0.5%",
        "Recall at review rate 1%",
        "Recall at review rate 2%",
        "Card precision@100",
    ]
    # Each value is the metric of that model's own scores.
    assert rows[-1][1] == card_precision_at_k(first.evaluation, 100)
    assert rows[0][2] == second.metrics["roc_auc"]

    report = write_report(comparison, tmp_path / "report")
    text = report.read_text()
    assert report.name == REPORT_FILE
    assert f"same {comparison.transactions} transactions ({comparison.frauds} fraud)" in text
    a, b = first.model.version, second.model.version
    assert f"| metric | A: {a} | B: {b} | B - A |" in text
    auc_a, auc_b = rows[0][1], rows[0][2]
    assert f"| ROC AUC | {auc_a:.4f} | {auc_b:.4f} | {auc_b - auc_a:+.4f} |" in text
    assert (tmp_path / "report" / PR_CHART).read_bytes().startswith(PNG_MAGIC)
    # The window starts after both models' training and validation windows: no note.
    assert "overlaps the time it was trained" not in text


def test_compare_notes_a_window_that_overlaps_a_model_s_training(
    trained_artifact: Path, simulated_history: pd.DataFrame
) -> None:
    comparison = compare_models((trained_artifact, trained_artifact), simulated_history)
    train = comparison.first.model.manifest.split["train"]
    assert any(
        f"overlaps the time it was trained and calibrated on ({train.start} to" in note
        for note in comparison.first.notes
    )


def test_compare_refuses_a_model_whose_features_this_build_cannot_compute(
    trained_artifact: Path, simulated_history: pd.DataFrame, tmp_path: Path
) -> None:
    # The same artifact, re-listed as trained on a feature set with a feature we do not have.
    moved = tmp_path / "model"
    shutil.copytree(trained_artifact, moved)
    path = moved / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    renamed = manifest["features"][3]
    manifest["features"][3] = "merchant_breach_score_7d"
    ranges = manifest["normal_ranges"]
    ranges["merchant_breach_score_7d"] = ranges.pop(renamed)  # its own build's ranges
    manifest["feature_set_version"] = "fs-000000000000"
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match="does not compute: merchant_breach_score_7d"):
        compare_models((trained_artifact, moved), simulated_history)


def test_compare_cli_writes_the_report_and_prints_the_table(
    trained_artifact: Path, other_artifact: Path, simulated_history: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "history.parquet"
    save_history(simulated_history, data)
    # The last week: fraud and legitimate payments both (a single day may hold no fraud).
    last = (simulated_history["timestamp"].max() - pd.Timedelta(days=7)).date()
    cli = [sys.executable, "-m", "riskscore.cli", "model", "compare"]
    out = tmp_path / "report"
    args = [str(trained_artifact), str(other_artifact), "--data", str(data), "--out", str(out)]
    result = subprocess.run(
        [*cli, *args, "--start", str(last)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "| Card precision@100 |" in result.stdout
    assert (out / REPORT_FILE).exists() and (out / PR_CHART).exists()
    backwards = subprocess.run(
        [*cli, *args, "--start", str(last), "--end", "2000-01-01"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert backwards.returncode == 2
    assert "--end 2000-01-01 is before --start" in backwards.stderr
