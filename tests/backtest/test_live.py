"""Live rule health from the decision record (a real PostgreSQL): matches live and in shadow,
precision against the current labels, unique catches, and the CLI that prints them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from backtest.live import live_report
from backtest.statistics import NO_UNIQUE
from policy.loader import load_policy
from record.labels import LabelEvent, add_label
from record.writer import DecisionWriter
from riskscore.cli import main
from service.settings import DEFAULT_POLICY_FILE
from tests.record.conftest import connect, run
from tests.record.records import record_body

pytestmark = pytest.mark.postgres
NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000
# id: (rules matched live, in shadow, decision, score, label)
DECISIONS = {
    "a": (["blocked_card"], [], "decline", 0.02, "chargeback"),
    "b": (["blocked_card", "card_testing"], [], "decline", 0.02, "confirmed_fraud"),
    "c": (["blocked_card"], [], "decline", 0.02, "confirmed_legitimate"),
    "d": ([], ["device_many_cards"], "approve", 0.02, "chargeback"),
    "e": ([], [], "review", 0.3, None),
    "f": (["retired_rule"], [], "review", 0.02, None),
}


def fill(url: str) -> None:
    async def write() -> None:
        bodies = [
            record_body(tid, decided_at_ms=NOW_MS - DAY_MS, rules_matched=live,
                        shadow_rules_matched=shadow, decision=decision, score=score)
            for tid, (live, shadow, decision, score, _) in DECISIONS.items()
        ]  # fmt: skip
        # 40 days old: outside a 30-day window
        bodies.append(record_body("old", decided_at_ms=NOW_MS - 40 * DAY_MS,
                                  rules_matched=["blocked_card"], decision="decline"))  # fmt: skip
        async with await connect(url) as connection:
            await DecisionWriter().write(connection, bodies)
            at = datetime.now(UTC)
            for tid, (*_, label) in DECISIONS.items():
                if label is not None:
                    await add_label(connection, LabelEvent(tid, label, "api", at, "ops"))

    run(write())


def test_live_report_counts_recorded_matches_against_current_labels(record_url: str) -> None:
    fill(record_url)
    policy = load_policy(DEFAULT_POLICY_FILE)
    now = datetime.now(UTC)

    async def read() -> object:
        async with await psycopg.AsyncConnection.connect(record_url) as connection:
            return await live_report(connection, policy, now - timedelta(days=30), now)

    report = run(read())
    summary = report.summary  # type: ignore[attr-defined]
    assert (summary.transactions, summary.frauds, summary.legit) == (6, 3, 1)
    assert summary.counts[next(d for d in summary.counts if d.value == "decline")] == 3
    rules = {rule.rule_id: rule for rule in summary.rules}
    blocked = rules["blocked_card"]
    assert (blocked.matches, blocked.labelled, blocked.frauds) == (3, 3, 2)
    assert blocked.precision == pytest.approx(2 / 3)
    assert blocked.unique_catches == 1  # "a"; "b" was also stopped by card_testing
    assert rules["card_testing"].unique_catches == 0
    assert NO_UNIQUE in rules["card_testing"].flags
    shadow = rules["device_many_cards"]
    assert (shadow.mode, shadow.matches, shadow.frauds, shadow.unique_catches) == (
        "shadow", 1, 1, 1,
    )  # fmt: skip
    assert "ready to promote" in shadow.flags
    assert rules["sanctioned_country"].matches == 0
    assert report.unknown_rules == ("retired_rule",)  # type: ignore[attr-defined]


def test_cli_policy_report_live_prints_and_writes_rule_health(
    record_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(record_url)
    args = ["policy", "report", "--live", "--since", "30d", "--out", str(tmp_path)]
    assert main([*args, "--database-url", record_url]) == 0
    out, err = capsys.readouterr()
    assert "6 decisions recorded" in err and "retired_rule" in err
    row = next(line for line in out.splitlines() if line.startswith("| blocked_card "))
    assert "66.7%" in row
    assert "blocked_card" in (tmp_path / "rule-health.md").read_text()
    assert main(["policy", "report", "--out", str(tmp_path)]) == 2  # neither --data nor --live
