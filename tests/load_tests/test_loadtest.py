"""`riskscore loadtest` as users run it, against the real service (its development key)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskscore.cli import main
from tests.load_tests.conftest import Served


def test_loadtest_command_writes_a_report_of_an_error_free_run(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = [
        "--target",
        served.url,
        "--rate",
        "80",
        "--duration",
        "1.5",
        "--out",
        str(tmp_path),
    ]
    assert main(["loadtest", *arguments]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests"] == 120
    assert summary["errors"] == 0
    assert "riskscore_decisions_total" in (tmp_path / "report.md").read_text()
    assert "achieved" in capsys.readouterr().out


def test_loadtest_command_refuses_a_bad_mix(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["--target", "http://127.0.0.1:9", "--rate", "1", "--duration", "1"]
    assert main(["loadtest", *arguments, "--mix", "ordinary=1,bogus=2"]) == 2
    assert "unknown kind 'bogus'" in capsys.readouterr().err
