"""The Locust file runs headless against the real service and meets no failure."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load_tests.conftest import Served

LOCUSTFILE = Path(__file__).resolve().parents[2] / "load_tests" / "locustfile.py"


@pytest.mark.slow
def test_locust_runs_the_traffic_without_failures(served: Served, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", served.url,
        "--headless", "-u", "20", "-r", "20", "-t", "30s", "--csv", str(tmp_path / "run"),
        "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "run_stats.csv").open() as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    # Building the traffic pool takes seconds of the run (more on a loaded machine); every
    # user sends at least once in what is left.
    assert int(total["Request Count"]) >= 20, result.stderr[-3000:]
    assert int(total["Failure Count"]) == 0
