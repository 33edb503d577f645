"""The pass/fail logic of the fault and soak runs, and the bench table, on made-up samples."""

from __future__ import annotations

import numpy as np

from load_tests.bench import table
from load_tests.fault import Outage
from load_tests.fault import verdict as fault_verdict
from load_tests.samples import OUTCOMES, Samples
from load_tests.soak import MemoryWatch
from load_tests.soak import verdict as soak_verdict


def run_with(outcomes: list[str], statuses: list[int] | None = None) -> Samples:
    """One request every 0.1 s with these outcomes."""
    count = len(outcomes)
    intended = np.arange(count) / 10.0
    return Samples(
        intended=intended,
        dispatched=intended,
        latency=np.full(count, 0.002),
        service=np.full(count, 0.002),
        status=np.array(statuses or [200] * count, dtype=np.int16),
        kind=np.zeros(count, dtype=np.int8),
        outcome=np.array([OUTCOMES.index(o) for o in outcomes], dtype=np.int8),
        duration=count / 10.0,
    )


OUTAGE = Outage(stopped=1.0, restarting=2.0, restarted=2.05)


def test_fault_passes_when_the_outage_is_all_degraded_and_recovery_is_quick() -> None:
    outcomes = ["ok"] * 10 + ["degraded"] * 11 + ["ok"] * 10
    assert fault_verdict(run_with(outcomes), OUTAGE)[1]


def test_fault_fails_on_a_normal_decision_during_the_outage() -> None:
    outcomes = ["ok"] * 10 + ["degraded"] * 5 + ["ok"] + ["degraded"] * 5 + ["ok"] * 10
    rows, passed = fault_verdict(run_with(outcomes), OUTAGE)
    assert not passed
    assert ["... of which not a degraded decision", "1", "**no**"] in rows


def test_fault_fails_on_slow_recovery_and_on_5xx() -> None:
    slow = ["ok"] * 10 + ["degraded"] * 11 + ["degraded"] * 25 + ["ok"] * 5
    assert not fault_verdict(run_with(slow), OUTAGE)[1]
    statuses = [200] * 30 + [503]
    outcomes = ["ok"] * 10 + ["degraded"] * 11 + ["ok"] * 9 + ["unexpected_status"]
    assert not fault_verdict(run_with(outcomes, statuses), OUTAGE)[1]


def test_soak_fails_when_a_worker_grows_ten_percent_or_redis_keeps_growing() -> None:
    watch = MemoryWatch(stack=None)  # type: ignore[arg-type]  # only the figures are read
    watch.rss = {1: [100, 101, 102], 2: [100, 100, 100]}
    watch.redis = [100, 150, 151, 152]
    assert soak_verdict(watch, errors=0)[1]
    assert not soak_verdict(watch, errors=1)[1]
    watch.rss[2] = [100, 105, 111]
    assert not soak_verdict(watch, errors=0)[1]
    watch.rss[2] = [100, 100, 100]
    watch.redis = [100, 150, 160, 180]
    assert not soak_verdict(watch, errors=0)[1]


def test_bench_table_shows_the_ratio_against_its_target() -> None:
    def phase(rate: float, p50: float = 1.0) -> dict[str, object]:
        summary = {
            "achieved_rate": rate,
            "requests": 1000,
            "errors": 0,
            "service_ms": {"p50": p50, "p99": 2.0},
            "latency_ms": {"p99": 3.0},
        }
        return {"summary": summary, "server_cpu_seconds": {"workers": 1.0, "redis": 0.2}}

    results = {
        "connections": 32,
        "max": {"/v1/echo": phase(2000), "/v1/score": phase(1000)},
        "single": {"/v1/echo": phase(1), "/v1/score": phase(1, p50=1.4)},
        "fixed_rate": {"rate": 500, **phase(500)},
        "ratio": 0.5,
    }
    text = table(results)
    assert "ratio **0.50** | >= 0.45" in text
    assert "| 1 connection p50 (ms) | 1.00 | 1.40 |" in text
    assert "| worker CPU per request at max (us) | 1000 | 1000 |" in text
