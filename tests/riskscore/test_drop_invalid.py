from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from history.io import save_history
from history.simulator import SimulationConfig, simulate
from riskscore.cli import main

ZERO_AMOUNT_ROWS = [3, 17, 250]  # 0-based; 1-based row numbers 4, 18, 251


@pytest.fixture(scope="module")
def history_with_zero_amounts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = simulate(SimulationConfig(transactions=3000, days=10, seed=4))
    frame.loc[ZERO_AMOUNT_ROWS, "amount"] = 0.0
    path = tmp_path_factory.mktemp("histories") / "history.parquet"
    save_history(frame, path)
    return path


def test_features_refuses_invalid_rows_and_suggests_drop_invalid(
    history_with_zero_amounts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["features", "--data", str(history_with_zero_amounts), "--out", str(tmp_path / "f")]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "column 'amount', row 4: 0.0 is not > 0 (3 row(s) in all)" in err
    assert "pass --drop-invalid" in err
    assert not (tmp_path / "f").exists()


def test_features_with_drop_invalid_reports_and_drops_the_bad_rows(
    history_with_zero_amounts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "features.parquet"
    argv = ["features", "--data", str(history_with_zero_amounts), "--out", str(out)]
    assert main([*argv, "--drop-invalid"]) == 0
    err = capsys.readouterr().err
    rows = len(pd.read_parquet(history_with_zero_amounts))
    assert f"dropped 3 of {rows:,} rows that break the schema" in err
    assert "3 row(s): column 'amount' is not > 0 (rows 4, 18, 251)" in err
    features = pd.read_parquet(out)
    assert len(features) == rows - 3
    source = pd.read_parquet(history_with_zero_amounts)
    dropped_ids = set(source.loc[ZERO_AMOUNT_ROWS, "transaction_id"])
    assert not dropped_ids & set(features["transaction_id"])


def test_policy_backtest_refuses_or_drops_invalid_rows(
    history_with_zero_amounts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"
    argv = ["policy", "report", "--policy", str(shipped), "--data", str(history_with_zero_amounts)]
    argv += ["--out", str(tmp_path)]
    assert main(argv) == 2
    assert "pass --drop-invalid" in capsys.readouterr().err
    assert main([*argv, "--drop-invalid"]) == 0
    captured = capsys.readouterr()
    assert "dropped 3 of" in captured.err
    assert (tmp_path / "rule-health.md").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["features"],
        ["train"],
        ["predict"],
        ["materialize"],
        ["policy", "backtest"],
        ["policy", "report"],
    ],
)
def test_every_command_that_reads_a_history_offers_drop_invalid(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    assert "--drop-invalid" in capsys.readouterr().out
