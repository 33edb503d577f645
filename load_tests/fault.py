"""The fault run: Redis is stopped for 10 s in the middle of a load and started again (empty).

    .venv/bin/python -m load_tests.fault [--rate 200] [--outage 10] [--out reports/fault]

Passes when: no 5xx; every valid request due while Redis was down got a valid decision marked
`degraded`; normal (not degraded) decisions again within 2 s of Redis answering again. The
report charts the share of degraded decisions over time with the outage shaded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from load_tests import server_metrics
from load_tests.loadtest import LoadTest, send_at_rate
from load_tests.report import RunInfo, markdown_table, write_report
from load_tests.samples import OUTCOMES, Samples
from load_tests.stack import API_KEY, Stack, running_stack
from load_tests.traffic import Traffic, simulated_pool

RECOVERY_LIMIT_SECONDS = 2.0
BIN_SECONDS = 0.25


@dataclass
class Outage:
    """When Redis went down and came back, as time.perf_counter() readings."""

    stopped: float = 0.0
    restarting: float = 0.0
    restarted: float = 0.0


async def break_redis(stack: Stack, outage: Outage, after: float, seconds: float) -> None:
    await asyncio.sleep(after)
    await asyncio.to_thread(stack.redis.stop)
    outage.stopped = time.perf_counter()
    await asyncio.sleep(seconds)
    outage.restarting = time.perf_counter()
    await asyncio.to_thread(stack.redis.start)  # returns once it answers PING
    outage.restarted = time.perf_counter()


def verdict(samples: Samples, outage: Outage) -> tuple[list[list[str]], bool]:
    """Checks on the samples, with the outage's times from the run's start."""
    stopped, restarting, restarted = outage.stopped, outage.restarting, outage.restarted
    degraded = samples.outcome == OUTCOMES.index("degraded")
    valid = samples.status != 422  # the invalid share is refused before any Redis call
    server_errors = int((samples.status >= 500).sum())
    # Due after Redis was gone and answered before it was started again.
    during = (samples.intended > stopped) & (samples.intended + samples.latency < restarting)
    during &= valid
    not_degraded = int((during & ~degraded).sum())
    after = (samples.intended >= restarted) & degraded
    last_degraded = float(samples.intended[after].max()) if after.any() else restarted
    recovery = last_degraded - restarted
    rows = [
        ["5xx responses", str(server_errors), _ok(server_errors == 0)],
        ["errors (no answer, unexpected status, bad body)", str(int(samples.errors().sum())),
         _ok(not samples.errors().any())],
        ["valid requests due during the outage", str(int(during.sum())), ""],
        ["... of which not a degraded decision", str(not_degraded), _ok(not_degraded == 0)],
        ["normal decisions again after Redis returned", f"{recovery:.2f} s",
         _ok(recovery <= RECOVERY_LIMIT_SECONDS)],
    ]  # fmt: skip
    return rows, all(row[2] != "**no**" for row in rows)


def _ok(passed: bool) -> str:
    return "yes" if passed else "**no**"


def chart_degraded(samples: Samples, stopped: float, restarted: float, path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.5), layout="constrained")
    axes = figure.subplots()
    decided = samples.status == 200  # the invalid share is refused, with no decision
    degraded = samples.outcome[decided] == OUTCOMES.index("degraded")
    bins = np.arange(0, samples.intended.max() + BIN_SECONDS, BIN_SECONDS)
    which = np.digitize(samples.intended[decided], bins)
    share = [
        degraded[which == i].mean() if (which == i).any() else np.nan for i in range(1, len(bins))
    ]
    axes.step(bins[:-1], share, where="post", label="share of decisions made degraded")
    axes.axvspan(stopped, restarted, color="grey", alpha=0.2, label="Redis stopped")
    axes.set_ylim(-0.05, 1.05)
    axes.set_xlabel("intended send time (s from start)")
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=110)


@dataclass(frozen=True)
class FaultRun:
    test: LoadTest
    samples: Samples
    outage: Outage  # seconds from the run's start
    metrics: list[tuple[str, float]]


def run_fault(out_dir: Path, rate: float, before: float, outage: float, after: float) -> FaultRun:
    """Start the service and load it while Redis goes down `before` seconds in."""
    pool = simulated_pool()
    times = Outage()
    with running_stack(out_dir) as stack:
        test = LoadTest(stack.url, rate, before + outage + after, API_KEY, out_dir, client="raw")
        metrics_before = server_metrics.fetch(stack.url)
        samples = send_at_rate(
            test, Traffic(pool, seed=3), desc="fault",
            during=lambda: break_redis(stack, times, before, outage),
        )  # fmt: skip
        metrics = server_metrics.changes(metrics_before, server_metrics.fetch(stack.url))
    for name in ("stopped", "restarting", "restarted"):
        setattr(times, name, getattr(times, name) - samples.start)
    return FaultRun(test, samples, times, metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load_tests.fault", description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--before", type=float, default=10.0, help="seconds before the outage")
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--after", type=float, default=15.0, help="seconds after the outage")
    parser.add_argument("--out", type=Path, default=Path("reports/fault"))
    args = parser.parse_args(argv)
    run = run_fault(args.out, args.rate, args.before, args.outage, args.after)
    test, samples, outage, metrics = run.test, run.samples, run.outage, run.metrics
    rows, passed = verdict(samples, outage)
    table = markdown_table(("check", "measured", "pass"), rows)
    notes = [
        f"Redis stopped at {outage.stopped:.2f} s and answering again at {outage.restarted:.2f} "
        "s (empty: its data is not persisted). Degraded decisions over time: "
        "[degraded.png](degraded.png)",
        "Verdict: " + ("**pass**" if passed else "**fail**"),
        table,
    ]
    spans = [(outage.stopped, outage.restarted, "Redis stopped")]
    info = RunInfo("Fault: Redis stopped during a load", test.settings(), spans, notes)
    write_report(args.out, info, samples, metrics)
    chart_degraded(samples, outage.stopped, outage.restarted, args.out / "degraded.png")
    print(f"{table}\nreport: {args.out / 'report.md'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
