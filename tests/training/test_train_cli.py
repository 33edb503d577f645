from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from history.io import save_history
from model.artifact import load_model

TRAIN = [sys.executable, "-m", "riskscore.cli", "train"]


def _train(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TRAIN, *args], capture_output=True, text=True, check=False)


def test_train_refuses_a_bad_config_naming_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("parameters:\n  max_depth: 40\n")
    result = _train("--data", str(tmp_path / "h.csv"), "--config", str(config))
    assert result.returncode == 2
    assert (
        f"{config}:2:14: field 'parameters.max_depth': must be a whole number in [1, 16], not 40"
        in result.stderr
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--test-fraction", "1.5"], "--test-fraction: must be a number in (0, 1), not 1.5"),
        (["--tune-trials", "0"], "--tune-trials: must be a whole number >= 1, not 0"),
        (
            ["--train-end", "2026-02-01", "--test-start", "2026-01-30"],
            "--test-start: is 2026-01-30: it must be after train_end (2026-02-01)",
        ),
        (["--test-start", "2026-01-30"], "--train-end: is needed when any window date is given"),
        (
            ["--train-end", "2026-02-01", "--test-start", "2026-02-03", "--gap-days", "3"],
            "--gap-days: plays no part when the windows are set by date",
        ),
    ],
)
def test_train_refuses_bad_flags_naming_the_flag(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    result = _train("--data", str(tmp_path / "h.csv"), *flags)
    assert result.returncode == 2
    assert message in result.stderr


def test_train_refuses_a_date_that_is_not_one(tmp_path: Path) -> None:
    result = _train("--data", str(tmp_path / "h.csv"), "--train-end", "02/01/2026")
    assert result.returncode == 2
    assert "'02/01/2026' is not a date (YYYY-MM-DD)" in result.stderr


def test_train_refuses_windows_outside_the_history(
    simulated_history: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "history.parquet"
    save_history(simulated_history.iloc[:3000], data)
    last = simulated_history["timestamp"].iloc[:3000].max().date()
    result = _train("--data", str(data), "--train-end", str(last), "--test-start", "2030-01-01")
    assert result.returncode == 2
    assert "test_start 2030-01-01 lies outside the history" in result.stderr


@pytest.mark.slow
def test_train_with_a_config_and_windows_records_them(
    simulated_history: pd.DataFrame, tmp_path: Path
) -> None:
    data = tmp_path / "history.parquet"
    small = simulated_history.iloc[:20_000]
    save_history(small, data)
    first = small["timestamp"].min().date()
    config = tmp_path / "train.yaml"
    config.write_text(
        "split:\n  validation_fraction: 0.25\nparameters:\n  max_depth: 4\n  n_estimators: 60\n"
    )
    days = pd.Timedelta(days=1)
    train_end, test_start = (pd.Timestamp(first) + n * days for n in (14, 17))
    result = _train(
        "--data",
        str(data),
        "--out",
        str(tmp_path / "model"),
        "--config",
        str(config),
        "--train-end",
        f"{train_end:%Y-%m-%d}",
        "--test-start",
        f"{test_start:%Y-%m-%d}",
        "--label-delay-days",
        "20",
    )
    assert result.returncode == 0, result.stderr
    manifest = load_model(tmp_path / "model").manifest
    assert manifest.parameters["max_depth"] == 4
    assert manifest.split["test"].start == f"{test_start:%Y-%m-%d}T00:00:00Z"
    assert manifest.split["validation"].end == f"{train_end + days:%Y-%m-%d}T00:00:00Z"
    assert manifest.gap_days == 2.0
    assert manifest.label_delay_seconds == 20 * 86_400
    record = manifest.training_config
    assert record is not None and record.source == str(config)
    assert record.settings["windows"] == {
        "train_end": f"{train_end:%Y-%m-%d}",
        "test_start": f"{test_start:%Y-%m-%d}",
    }
    assert record.settings["split"] == {"validation_fraction": 0.25}
    assert record.tuning is None
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert f"the config file `{config}`" in card
    assert json.loads((tmp_path / "model" / "manifest.json").read_text())["training_config"]


def test_train_says_when_the_chargeback_window_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "recent.csv"
    data.write_text(
        "transaction_id,timestamp,card_id,merchant_id,amount,is_fraud\n"
        "a,2026-03-01T00:00:00Z,c1,m1,10,\n"
        "b,2026-03-20T00:00:00Z,c2,m1,12,1\n"
    )
    result = _train("--data", str(data), "--unlabelled-after-days", "30")
    assert result.returncode == 2
    assert "0 unlabelled transactions past it taken as legitimate; 2 still inside" in result.stderr
    assert "no transaction left to train on" in result.stderr
