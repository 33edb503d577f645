"""`make bench`: /v1/score against /v1/echo (the same body model and key check, no scoring) on
one server with 2 workers and a private warmed Redis, in one run, so that the ratio holds on a
noisy machine. Prints a table; writes reports/bench/ (bench.md, results.json, fixed-rate/).

    .venv/bin/python -m load_tests.bench [--out reports/bench] [--seconds 8] [--rounds 2]

warm up -> max throughput of each (closed loop, alternating rounds, best kept) -> latency at 1
connection -> open loop at half the score throughput -> table -> feature store micro-benchmark.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load_tests import server_metrics
from load_tests.clients import RawClient
from load_tests.report import RunInfo, markdown_table, write_report
from load_tests.runner import Target, closed_loop, open_loop, run
from load_tests.samples import Samples, Summary
from load_tests.stack import API_KEY, Stack, running_stack
from load_tests.traffic import Pool, Traffic, TrafficMix, simulated_pool

ECHO, SCORE = "/v1/echo", "/v1/score"
ROOT = Path(__file__).resolve().parents[1]
MICRO_BENCHMARKS = (
    "benchmarks/bench_feature_store.py --calls 5000",
    "benchmarks/bench_attributions.py",
    "benchmarks/bench_policy.py",
    "benchmarks/bench_pipeline.py",
)
TARGETS = {"ratio": 0.45, "single_p50_ms": 1.5, "single_p99_ms": 5.0, "fixed_p99_ms": 10.0}
Load = Callable[[Target, Traffic], Coroutine[Any, Any, Samples]]


@dataclass(frozen=True)
class Phase:
    """One measured phase: its summary, and the CPU the generator and the server used."""

    summary: Summary
    generator_cpu_seconds: float
    server_cpu_seconds: dict[str, float]  # "workers" together, "redis", "postgres"

    def cpu_us_per_request(self, part: str) -> float:
        return self.server_cpu_seconds[part] / max(self.summary.requests, 1) * 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary.as_dict(),
            "generator_cpu_seconds": self.generator_cpu_seconds,
            "server_cpu_seconds": self.server_cpu_seconds,
        }


@dataclass
class Bench:
    stack: Stack
    pool: Pool
    connections: int
    phases: int = 0

    def measure(self, path: str, load: Load) -> tuple[Phase, Samples]:
        # Ordinary customers only: valid bodies with fresh ids, the same sequence every phase.
        self.phases += 1
        traffic = Traffic(
            self.pool, TrafficMix.parse("ordinary=1"), seed=1, run_id=f"b{self.phases}"
        )
        cpu_before, generator_before = self.stack.cpu_seconds(), time.process_time()

        async def go() -> Samples:
            client = RawClient(self.stack.url, API_KEY, self.connections)
            try:
                return await load(Target(client, path), traffic)
            finally:
                await client.aclose()

        samples = run(go())
        cpu_after = self.stack.cpu_seconds()
        server = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
        return Phase(Summary.of(samples), time.process_time() - generator_before, server), samples

    def closed(self, path: str, connections: int, seconds: float) -> Phase:
        async def load(target: Target, traffic: Traffic) -> Samples:
            return await closed_loop(target, traffic.next, connections, seconds)

        return self.measure(path, load)[0]

    def fixed_rate(self, rate: float, seconds: float) -> tuple[Phase, Samples]:
        async def load(target: Target, traffic: Traffic) -> Samples:
            return await open_loop(target, traffic.next, rate, seconds)

        return self.measure(SCORE, load)


def run_bench(out_dir: Path, connections: int, seconds: float, rounds: int) -> dict[str, Any]:
    """Every phase against one freshly started service; the results as `results.json` holds."""
    pool = simulated_pool()
    with running_stack(out_dir) as stack:
        bench = Bench(stack, pool, connections)
        for path in (ECHO, SCORE):  # warm up: connections, allocators, caches
            bench.closed(path, connections, 3.0)
        rounds_of: dict[str, list[Phase]] = {ECHO: [], SCORE: []}
        for _ in range(rounds):
            for path in (ECHO, SCORE):
                rounds_of[path].append(bench.closed(path, connections, seconds))
        single = {path: bench.closed(path, 1, seconds) for path in (ECHO, SCORE)}
        best = {
            p: max(r, key=lambda phase: phase.summary.achieved_rate) for p, r in rounds_of.items()
        }
        rate = round(best[SCORE].summary.achieved_rate / 2)
        fixed = _fixed_rate_report(bench, rate, seconds * 2.5, out_dir / "fixed-rate")
    return {
        "connections": connections,
        "seconds": seconds,
        "rounds": {p: [phase.as_dict() for phase in r] for p, r in rounds_of.items()},
        "max": {p: phase.as_dict() for p, phase in best.items()},
        "single": {p: phase.as_dict() for p, phase in single.items()},
        "fixed_rate": {"rate": rate, **fixed.as_dict()},
        "ratio": best[SCORE].summary.achieved_rate / best[ECHO].summary.achieved_rate,
    }


def _fixed_rate_report(bench: Bench, rate: int, seconds: float, out_dir: Path) -> Phase:
    """/v1/score at `rate` in an open loop, with a full report in `out_dir`."""
    before = server_metrics.fetch(bench.stack.url)
    fixed, samples = bench.fixed_rate(rate, seconds)
    metrics = server_metrics.changes(before, server_metrics.fetch(bench.stack.url))
    settings = {
        "arrival": f"open loop, {rate} requests/s for {seconds:g} s",
        "client": f"raw, at most {bench.connections} connections",
        "service": "riskscore serve --workers 2, private warmed Redis",
    }
    title = f"make bench: /v1/score at {rate} requests/s (half the measured maximum)"
    write_report(out_dir, RunInfo(title, settings), samples, metrics)
    return fixed


def table(results: dict[str, Any]) -> str:
    """The comparison as a markdown table, with the issue's targets."""
    best, single = results["max"], results["single"]
    fixed = results["fixed_rate"]["summary"]

    def rate(path: str) -> str:
        return f"{best[path]['summary']['achieved_rate']:.0f}"

    def one(path: str, name: str) -> str:
        return f"{single[path]['summary']['service_ms'][name]:.2f}"

    def cpu(path: str, part: str) -> str:
        phase = best[path]
        return f"{phase['server_cpu_seconds'][part] / phase['summary']['requests'] * 1e6:.0f}"

    rows = [
        (f"max throughput, {results['connections']} connections (req/s)", rate(ECHO),
         rate(SCORE), f"ratio **{results['ratio']:.2f}**", f">= {TARGETS['ratio']}"),
        ("1 connection p50 (ms)", one(ECHO, "p50"), one(SCORE, "p50"), "",
         f"<= {TARGETS['single_p50_ms']}"),
        ("1 connection p99 (ms)", one(ECHO, "p99"), one(SCORE, "p99"), "",
         f"<= {TARGETS['single_p99_ms']}"),
        (f"fixed {results['fixed_rate']['rate']} req/s (open loop): p99 (ms)", "",
         f"{fixed['latency_ms']['p99']:.2f}", f"errors {fixed['errors']}",
         f"<= {TARGETS['fixed_p99_ms']}, no errors"),
        ("worker CPU per request at max (us)", cpu(ECHO, "workers"), cpu(SCORE, "workers"), "", ""),
        ("Redis CPU per request at max (us)", cpu(ECHO, "redis"), cpu(SCORE, "redis"), "", ""),
    ]  # fmt: skip
    return markdown_table(("measure", ECHO, SCORE, "", "target"), rows)


def run_micro_benchmarks(out_dir: Path) -> None:
    """The feature store call alone (about 10 s); the other stages are listed, not run."""
    command = [sys.executable, *MICRO_BENCHMARKS[0].split()]
    print(f"\n$ {' '.join(MICRO_BENCHMARKS[0].split())}", flush=True)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    print(result.stdout + result.stderr, end="")
    (out_dir / "feature_store.txt").write_text(result.stdout + result.stderr)
    print("\nOther stage micro-benchmarks (each runs alone):")
    for line in MICRO_BENCHMARKS[1:]:
        if (ROOT / line.split()[0]).exists():
            print(f"  .venv/bin/python {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m load_tests.bench", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    parser.add_argument("--connections", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per endpoint")
    parser.add_argument("--no-micro", action="store_true", help="skip the micro-benchmark")
    parser.add_argument(
        "--no-recording", action="store_true", help="skip the recording on/off comparison"
    )
    parser.add_argument(
        "--no-webhooks", action="store_true", help="skip the webhooks on/off comparison"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = run_bench(args.out, args.connections, args.seconds, args.rounds)
    text = table(results)
    if not args.no_recording:
        from load_tests.recording_bench import compare_recording, recording_table

        recording = compare_recording(args.out, args.connections, args.seconds, args.rounds)
        (args.out / "recording.json").write_text(json.dumps(recording, indent=2) + "\n")
        text += "\n\nRecording on vs off (side by side, alternating rounds):\n\n"
        text += recording_table(recording, args.connections)
    if not args.no_webhooks:
        from load_tests.webhooks_bench import compare_webhooks, webhooks_table

        webhooks = compare_webhooks(args.out, args.connections, args.seconds, args.rounds)
        (args.out / "webhooks.json").write_text(json.dumps(webhooks, indent=2) + "\n")
        text += "\n\nWebhooks on vs off (side by side, alternating rounds):\n\n"
        text += webhooks_table(webhooks, args.connections)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "bench.md").write_text(
        f"# make bench, {stamp}\n\n{text}\n\nThe fixed-rate run: [fixed-rate/report.md]"
        "(fixed-rate/report.md). Server, Redis and generator share this machine.\n"
    )
    print(f"\n{text}\n\nreports: {args.out}/bench.md ({time.monotonic() - started:.0f} s)")
    if not args.no_micro:
        run_micro_benchmarks(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
