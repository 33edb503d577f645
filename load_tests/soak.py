"""The soak run: the default traffic mix at half the measured maximum throughput for N minutes,
watching each worker's resident memory and Redis' `used_memory`.

    .venv/bin/python -m load_tests.soak --minutes 10 [--rate R] [--out reports/soak]

The service runs with `RISKSCORE_DECISION_TTL_SECONDS=60` (the least the settings allow), so
that stored decisions and dedup markers expire within the run and Redis memory can level off.
Passes when: no errors; each worker's RSS grows less than 10 % from the end of the warm-up;
Redis memory grows less than 10 % over the second half of the run.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from load_tests import server_metrics
from load_tests.bench import SCORE, Bench
from load_tests.loadtest import LoadTest, send_at_rate
from load_tests.report import RunInfo, markdown_table, write_report
from load_tests.samples import Samples
from load_tests.stack import API_KEY, Stack, running_stack
from load_tests.traffic import Traffic, TrafficMix, simulated_pool

DECISION_TTL_SECONDS = 60
SAMPLE_SECONDS = 10.0
WARM_UP_SECONDS = 30.0
LIMIT_GROWTH = 0.10


@dataclass
class MemoryWatch:
    """Samples worker RSS and Redis memory every `SAMPLE_SECONDS` in a thread."""

    stack: Stack
    times: list[float] = field(default_factory=list)
    rss: dict[int, list[int]] = field(default_factory=dict)
    redis: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        import psutil

        self.times.append(time.perf_counter())
        for pid in self.stack.worker_pids():
            self.rss.setdefault(pid, []).append(psutil.Process(pid).memory_info().rss)
        self.redis.append(self.stack.redis_memory()["used_memory"])

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            self.sample()


def growth(values: list[int]) -> float:
    return values[-1] / values[0] - 1 if values and values[0] else float("nan")


def verdict(watch: MemoryWatch, errors: int) -> tuple[list[tuple[str, str, str]], bool]:
    """Rows (check, measured, pass) and whether every check passed."""
    rows = [("errors", str(errors), "yes" if errors == 0 else "**no**")]
    for pid, values in sorted(watch.rss.items()):
        change = growth(values)
        measured = f"{values[0] / 2**20:.1f} -> {values[-1] / 2**20:.1f} MiB ({change:+.1%})"
        rows.append((f"worker {pid} RSS", measured, "yes" if change < LIMIT_GROWTH else "**no**"))
    half = watch.redis[len(watch.redis) // 2 :]
    change = growth(half)
    measured = (
        f"{watch.redis[0] / 2**20:.1f} MiB at start, {half[0] / 2**20:.1f} at half time, "
        f"{half[-1] / 2**20:.1f} at the end ({change:+.1%} over the second half)"
    )
    rows.append(("Redis used_memory", measured, "yes" if change < LIMIT_GROWTH else "**no**"))
    return rows, all(row[2] == "yes" for row in rows)


def chart_memory(watch: MemoryWatch, start: float, path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    axes = figure.subplots()
    minutes = [(t - start) / 60 for t in watch.times]
    for pid, values in sorted(watch.rss.items()):
        axes.plot(minutes[: len(values)], [v / 2**20 for v in values], label=f"worker {pid} RSS")
    axes.plot(minutes, [v / 2**20 for v in watch.redis], label="Redis used_memory")
    axes.set_xlabel("minutes from the start of the soak")
    axes.set_ylabel("MiB")
    axes.legend(fontsize="small")
    figure.savefig(path, dpi=110)


@dataclass(frozen=True)
class SoakRun:
    test: LoadTest
    samples: Samples
    watch: MemoryWatch
    metrics: list[tuple[str, float]]


def soak(out_dir: Path, minutes: float, rate: float | None) -> SoakRun:
    """Start the service, warm it up, and load it for `minutes` while watching memory."""
    env = {"RISKSCORE_DECISION_TTL_SECONDS": str(DECISION_TTL_SECONDS)}
    pool = simulated_pool()
    with running_stack(out_dir, env=env) as stack:
        if rate is None:
            rate = round(Bench(stack, pool, 32).closed(SCORE, 32, 8.0).summary.achieved_rate / 2)
        warm_up = LoadTest(stack.url, rate, WARM_UP_SECONDS, API_KEY, out_dir, client="raw")
        send_at_rate(warm_up, Traffic(pool, seed=99), desc="warm-up")
        test = LoadTest(stack.url, rate, minutes * 60, API_KEY, out_dir, client="raw")
        watch = MemoryWatch(stack)
        watch.sample()
        thread = threading.Thread(target=watch.run, daemon=True)
        thread.start()
        before = server_metrics.fetch(stack.url)
        samples = send_at_rate(test, Traffic(pool, TrafficMix(), seed=1), desc="soak")
        watch.stop.set()
        thread.join()
        watch.sample()
        metrics = server_metrics.changes(before, server_metrics.fetch(stack.url))
    return SoakRun(test, samples, watch, metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load_tests.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="requests/s (default: half the measured max)")
    parser.add_argument("--out", type=Path, default=Path("reports/soak"))
    args = parser.parse_args(argv)
    run = soak(args.out, args.minutes, args.rate)
    rows, passed = verdict(run.watch, int(run.samples.errors().sum()))
    table = markdown_table(("check", "measured", "pass"), rows)
    settings = {
        **run.test.settings(),
        "service": f"2 workers, RISKSCORE_DECISION_TTL_SECONDS={DECISION_TTL_SECONDS}",
    }
    notes = [
        "Memory charted in [memory.png](memory.png); RSS growth is measured from the end of "
        f"a {WARM_UP_SECONDS:.0f} s warm-up at the same rate.",
        "Verdict: " + ("**pass**" if passed else "**fail**"),
        table,
    ]
    title = f"Soak: {args.minutes:g} minutes at {run.test.rate:g} requests/s"
    write_report(args.out, RunInfo(title, settings, notes=notes), run.samples, run.metrics)
    chart_memory(run.watch, run.watch.times[0], args.out / "memory.png")
    print(f"{table}\nreport: {args.out / 'report.md'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
