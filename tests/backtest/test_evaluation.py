"""Backtests and rule health: numbers against a hand-computed case, and the CLI end to end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.evaluation import Replay, backtest, run_policy
from backtest.statistics import NO_UNIQUE, summarise
from feature_store.offline import compute_features
from history.io import normalise, save_history
from history.simulator import SimulationConfig, simulate
from policy.decision import Decision, Policy
from policy.loader import parse_policy
from riskscore.cli import main

NOW = 1_800_000_000.0
HEAD = """\
bands: {review_at: 0.3, challenge_at: 0.6, decline_at: 0.9}
degraded: {approve_below: 0.05, otherwise: review}
rules:
"""
RULES = {
    "big": ("amount_usd > 500", "decline", ""),
    "fr": ('card.country == "FR"', "review", ""),
    "vip": ('merchant.id == "m_vip"', "allow", ""),
    "shadow_mid": ("amount_usd > 100", "challenge", "    mode: shadow\n"),
    "old": ("amount_usd > 0", "decline", "    expires: 2020-01-01\n"),
}
# amount (USD), card country, merchant, score, label (None: unlabelled); decisions worked out
# by hand in the comments.
ROWS = [
    (1000, "US", "m1", 0.0, 1),  # big -> decline (fraud caught)
    (600, "US", "m1", 0.95, 0),  # big + band -> decline (false decline)
    (50, "FR", "m1", 0.0, 1),  # fr -> review (fraud sent to review)
    (50, "FR", "m1", 0.7, 1),  # fr, band challenge -> challenge (fraud caught)
    (200, "US", "m1", 0.0, 1),  # shadow_mid only -> approve (missed)
    (700, "US", "m_vip", 0.0, 1),  # big, but vip allows -> approve (missed)
    (20, "US", "m1", 0.4, 0),  # band -> review
    (20, "US", "m1", 0.0, 0),  # approve
    (150, "FR", "m1", 0.0, 0),  # fr -> review
    (30, "US", "m1", 0.0, None),  # approve, unlabelled
]


def policy(*rule_ids: str) -> Policy:
    parts = [
        f"  - id: {rule_id}\n    when: '{RULES[rule_id][0]}'\n    action: {RULES[rule_id][1]}\n"
        f"    description: test\n    reason_code: VELOCITY_LIMIT\n    owner: tests\n"
        + RULES[rule_id][2]
        for rule_id in rule_ids
    ]
    return parse_policy(HEAD + "".join(parts), "hand.yaml")


@pytest.fixture(scope="module")
def replay() -> Replay:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    raw = pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(len(ROWS))],
            "timestamp": [(start + timedelta(hours=i)).isoformat() for i in range(len(ROWS))],
            "card_id": [f"c{i}" for i in range(len(ROWS))],
            "merchant_id": [row[2] for row in ROWS],
            "amount": [float(row[0]) for row in ROWS],
            "card_country": [row[1] for row in ROWS],
            "is_fraud": [np.nan if row[4] is None else float(row[4]) for row in ROWS],
        }
    )
    history = normalise(raw, "hand")
    scores = np.array([row[3] for row in ROWS], dtype=np.float64)
    return Replay(history, compute_features(history), scores)


def test_backtest_summary_matches_hand_computed_case(replay: Replay) -> None:
    summary = backtest(policy(*RULES), replay, now=NOW).new
    assert summary.counts == {
        Decision.APPROVE: 4,
        Decision.REVIEW: 3,
        Decision.CHALLENGE: 1,
        Decision.DECLINE: 2,
    }
    assert summary.rate(Decision.REVIEW) == pytest.approx(0.3)
    assert (summary.frauds, summary.legit, summary.fraud_usd) == (5, 4, 2000.0)
    assert (summary.caught, summary.caught_usd, summary.reviewed_frauds) == (2, 1050.0, 1)
    assert summary.caught_rate == pytest.approx(0.4)
    assert summary.false_declines == 1
    assert summary.false_decline_rate == pytest.approx(0.25)


def test_rule_stats_match_hand_computed_case(replay: Replay) -> None:
    summary = summarise(run_policy(policy(*RULES), replay, now=NOW), replay)
    stats = {r.rule_id: r for r in summary.rules}
    got = {
        rule_id: (r.matches, r.frauds, r.precision, r.fraud_usd, r.unique_catches, r.unique_usd)
        for rule_id, r in stats.items()
    }
    assert got == {
        "big": (3, 2, pytest.approx(2 / 3), 1700.0, 1, 1000.0),
        "fr": (3, 2, pytest.approx(2 / 3), 100.0, 1, 50.0),
        "vip": (1, 1, 1.0, 700.0, 0, 0.0),
        "shadow_mid": (5, 3, pytest.approx(0.6), 1900.0, 1, 200.0),
        "old": (10, 5, pytest.approx(5 / 9), 2000.0, 1, 200.0),
    }
    assert {rule_id: r.flags for rule_id, r in stats.items()} == {
        "big": (),
        "fr": (),
        "vip": (),
        "shadow_mid": ("ready to promote",),
        "old": ("expired",),
    }


def test_rule_health_flags_shadow_below_threshold_and_rules_without_unique_catch(
    replay: Replay,
) -> None:
    # Before its expiry `old` declines every row, so the other rules stop no fraud alone.
    run = run_policy(policy(*RULES), replay, now=datetime(2019, 1, 1, tzinfo=UTC).timestamp())
    stats = {r.rule_id: r for r in summarise(run, replay, promote_precision=0.7).rules}
    assert stats["shadow_mid"].flags == (NO_UNIQUE, "drop")
    assert stats["fr"].flags == (NO_UNIQUE,)
    assert stats["big"].flags == (NO_UNIQUE,)
    assert stats["old"].unique_catches == 1  # row 4; `big` stops row 0, `fr` reviews row 2


def test_backtest_compares_with_baseline_and_samples_changes(replay: Replay) -> None:
    without_fr = policy("big", "vip", "shadow_mid", "old")
    result = backtest(policy(*RULES), replay, baseline=without_fr, now=NOW)
    assert result.baseline is not None and result.baseline.counts[Decision.REVIEW] == 1
    assert result.changed == 2
    assert result.transitions.loc["approve", "review"] == 2
    assert list(result.sample["transaction_id"]) == ["t2", "t8"]
    assert list(result.sample["new_rules"]) == ["fr", "fr"]


def test_cli_backtest_and_report_write_their_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.parquet"
    save_history(simulate(SimulationConfig(transactions=3000, days=10, seed=1)), history)
    shipped = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"
    new = tmp_path / "new.yaml"
    new.write_text(shipped.read_text().replace("mode: shadow", "mode: active"))
    out = tmp_path / "out"
    argv = ["policy", "backtest", "--policy", str(new), "--baseline", str(shipped)]
    assert main([*argv, "--data", str(history), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fraud caught (decline or challenge)" in printed and "decisions change" in printed
    markdown = (out / "backtest.md").read_text()
    assert "## Decision changes" in markdown and "device_many_cards" in markdown
    assert (out / "backtest.png").read_bytes()[:4] == b"\x89PNG"

    argv = ["policy", "report", "--policy", str(shipped), "--data", str(history)]
    assert main([*argv, "--out", str(out)]) == 0
    assert "unique catches" in capsys.readouterr().out
    assert "device_many_cards" in (out / "rule-health.md").read_text()


def test_cli_backtest_refuses_an_invalid_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "  - id: x\n    when: 'amount_usd >'\n")
    argv = ["policy", "backtest", "--policy", str(bad), "--data", str(tmp_path / "none.parquet")]
    assert main(argv) == 2
    assert "bad.yaml" in capsys.readouterr().err
