"""The example of docs/policy-backtest.md is what the commands print: the same simulated history
(`riskscore simulate --transactions 20000 --days 20 --seed 1`), the same change to the default
policy, and every figure of the printed table and the count of changed decisions compared."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.settings import DEFAULT_POLICY_FILE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "policy-backtest.md"
CLI = [sys.executable, "-m", "riskscore.cli"]


def _new_policy(path: Path) -> Path:
    """The example's change: `device_many_cards` active, the cross-border limit at 500 USD."""
    text = DEFAULT_POLICY_FILE.read_text()
    changed = text.replace("    mode: shadow\n", "").replace(
        "amount_usd > 2000 and card.country", "amount_usd > 500 and card.country"
    )
    assert changed.count("mode: shadow") == 0 and changed != text
    path.write_text(changed)
    return path


def _figures(text: str) -> list[str]:
    """The table rows after the header (labels and figures, not the policy versions) and the
    line that counts the changed decisions."""
    lines = text.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.startswith("|  ") and "baseline" in line
    )
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(re.sub(r"\s+", " ", line))
    changed = next(line for line in lines if "decisions change" in line)
    return [*rows, changed]


def _documented() -> str:
    text = GUIDE.read_text()
    example = text[text.index("## Example") :]
    return example[: example.index("Read it as")]


def test_backtest_example_figures_are_what_the_command_prints(tmp_path: Path) -> None:
    history = tmp_path / "h.parquet"
    simulate = [*CLI, "simulate", "--out", str(history), "--transactions", "20000"]
    simulate += ["--days", "20", "--seed", "1"]
    subprocess.run(simulate, check=True, capture_output=True)
    command = [*CLI, "policy", "backtest", "--policy", str(_new_policy(tmp_path / "new.yaml"))]
    command += ["--baseline", str(DEFAULT_POLICY_FILE), "--data", str(history)]
    command += ["--out", str(tmp_path / "reports")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert _figures(result.stdout) == _figures(_documented())
