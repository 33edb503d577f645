"""The console's SVG chart geometry: what the templates draw comes from here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backtest.statistics import RuleStats
from service.console.charts import BAR_AREA, MARGIN, TIMELINE_HEIGHT, WIDTH, rule_bars, timeline


def _rule(rule_id: str, matches: int, precision: float | None, **changes: Any) -> RuleStats:
    values: dict[str, Any] = {
        "rule_id": rule_id, "action": "review", "mode": "live", "expired": False,
        "matches": matches, "labelled": matches, "frauds": 0, "precision": precision,
        "fraud_usd": 0.0, "unique_catches": 0, "unique_usd": 0.0, "flags": (),
    }  # fmt: skip
    values.update(changes)
    return RuleStats(**values)


def test_the_most_matched_rule_fills_the_row_and_precision_is_a_share_of_it() -> None:
    chart = rule_bars(
        [_rule("a", 40, 0.5), _rule("b", 10, None, mode="shadow"), _rule("c", 0, 1.0, expired=True)]
    )
    a, b, c = chart.bars
    assert a.width == pytest.approx(BAR_AREA) and b.width == pytest.approx(BAR_AREA / 4)
    assert c.width == 0 and c.precision_width == pytest.approx(BAR_AREA)
    assert a.precision_width == pytest.approx(BAR_AREA / 2) and b.precision_width == 0
    assert [bar.css_class for bar in chart.bars] == ["live", "shadow", "expired"]
    assert a.text == "40 matches, 50% precise" and b.text == "10 matches"
    assert a.y < b.y < c.y < chart.height


def test_no_rule_draws_an_empty_chart() -> None:
    assert rule_bars([]).bars == ()


def test_the_timeline_runs_from_the_first_decision_to_the_last_by_score() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        {"transaction_id": "t1", "occurred_at": start, "score": 0.0, "decision": "approve",
         "label": None},
        {"transaction_id": "t2", "occurred_at": start + timedelta(hours=1), "score": 1.0,
         "decision": "decline", "label": "chargeback"},
        {"transaction_id": "t3", "occurred_at": start + timedelta(minutes=30), "score": 0.5,
         "decision": "review", "label": "confirmed_legitimate"},
    ]  # fmt: skip
    drawn = timeline(rows, "t3")
    first, last, middle = drawn.points
    assert first.x == pytest.approx(MARGIN) and last.x == pytest.approx(WIDTH - MARGIN)
    assert middle.x == pytest.approx(WIDTH / 2)
    assert first.y == pytest.approx(TIMELINE_HEIGHT - MARGIN) and last.y == pytest.approx(MARGIN)
    assert (first.css_class, last.css_class, middle.css_class) == (
        "approve",
        "decline fraud",
        "review",
    )
    assert [p.current for p in drawn.points] == [False, False, True]
    assert drawn.first == start and drawn.last == start + timedelta(hours=1)
    assert timeline([], "t1").points == ()
