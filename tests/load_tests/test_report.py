from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from load_tests import server_metrics
from load_tests.report import RunInfo, write_report
from load_tests.samples import OUTCOMES, Samples, Summary, percentiles


def samples(count: int = 1000, lag: float = 0.0) -> Samples:
    intended = np.arange(count) / 100.0
    latency = np.linspace(0.001, 0.1, count)
    outcome = np.zeros(count, dtype=np.int8)
    outcome[:10] = OUTCOMES.index("no_answer")
    status = np.where(outcome == 0, 200, 0).astype(np.int16)
    return Samples(
        intended=intended,
        dispatched=intended + lag,
        latency=latency,
        service=latency - lag,
        status=status,
        kind=np.zeros(count, dtype=np.int8),
        outcome=outcome,
        duration=count / 100.0,
    )


def test_percentiles_are_observed_values_in_milliseconds() -> None:
    values = np.arange(1, 1001) / 1000.0
    found = percentiles(values)
    assert found["p50"] == 500.0
    assert found["p99"] == 990.0
    assert found["p99.9"] in (999.0, 1000.0)  # 99.9 % of 1000 meets floating point
    assert found["max"] == 1000.0


def test_summary_counts_errors_and_says_when_the_generator_fell_behind() -> None:
    assert Summary.of(samples()).errors == 10
    assert not Summary.of(samples()).behind
    assert Summary.of(samples(lag=0.02)).behind


def test_report_has_markdown_json_and_two_charts(tmp_path: Path) -> None:
    metrics = server_metrics.changes(
        server_metrics.parse('riskscore_decisions_total{decision="approve",degraded="false"} 5\n'),
        server_metrics.parse('riskscore_decisions_total{decision="approve",degraded="false"} 9\n'),
    )
    info = RunInfo("A run", {"arrival": "open loop"}, spans=[(2.0, 4.0, "outage")])
    write_report(tmp_path, info, samples(lag=0.02), metrics)
    text = (tmp_path / "report.md").read_text()
    assert "**10**" in text  # errors
    assert "fell behind" in text
    assert 'riskscore_decisions_total{decision="approve",degraded="false"} +4' in text
    assert json.loads((tmp_path / "summary.json").read_text())["errors"] == 10
    for chart in ("latency_over_time.png", "latency_histogram.png"):
        assert (tmp_path / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_metrics_changes_without_a_server_are_empty() -> None:
    assert server_metrics.changes(None, None) == []
    assert server_metrics.fetch("http://127.0.0.1:9") is None
