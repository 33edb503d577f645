"""`riskscore loadtest`: simulated traffic at a constant arrival rate against a running
service, with a progress bar, then a report folder (load_tests/report.py).

options -> traffic (load_tests/traffic.py) -> /metrics before -> open loop -> /metrics after
-> report.md, summary.json, latency_over_time.png, latency_histogram.png.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from load_tests import server_metrics
from load_tests.clients import make_client
from load_tests.report import RunInfo, behind_warning, write_report
from load_tests.runner import DEFAULT_TIMEOUT_SECONDS, Progress, Target, open_loop, run
from load_tests.samples import Samples, Summary
from load_tests.traffic import Traffic, TrafficMix, simulated_pool


@dataclass(frozen=True)
class LoadTest:
    target: str
    rate: float
    duration_seconds: float
    api_key: str
    out_dir: Path
    connections: int = 64
    client: str = "httpx"
    path: str = "/v1/score"
    mix: TrafficMix = field(default_factory=TrafficMix)
    seed: int = 0
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def settings(self) -> dict[str, str]:
        return {
            "target": f"{self.target}{self.path}",
            "arrival": f"open loop, {self.rate:g} requests/s for {self.duration_seconds:g} s",
            "client": f"{self.client}, at most {self.connections} connections",
            "traffic mix": ", ".join(f"{k}={v:g}" for k, v in self.mix.__dict__.items()),
            "seed": str(self.seed),
            "timeout": f"{self.timeout_seconds:g} s",
        }


def run_load_test(test: LoadTest) -> Summary:
    """Run `test` and write its report into `test.out_dir`."""
    traffic = Traffic(simulated_pool(), test.mix, seed=test.seed)
    before = server_metrics.fetch(test.target)
    samples = send_at_rate(test, traffic)
    after = server_metrics.fetch(test.target)
    info = RunInfo(f"Load test of {test.target}", test.settings())
    return write_report(test.out_dir, info, samples, server_metrics.changes(before, after))


def send_at_rate(
    test: LoadTest,
    traffic: Traffic,
    desc: str = "loadtest",
    during: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> Samples:
    """The open loop of `test` with a progress bar on stderr; `during()` runs alongside (the
    fault run stops Redis in it) and is awaited before returning."""
    count = max(1, round(test.rate * test.duration_seconds))
    with tqdm(total=count, desc=desc, unit="req", file=sys.stderr) as bar:

        def progress(done: int, errors: int) -> None:
            bar.update(done - bar.n)
            bar.set_postfix(errors=errors, refresh=False)

        return run(_load(test, traffic, progress, during))


async def _load(
    test: LoadTest,
    traffic: Traffic,
    progress: Progress,
    during: Callable[[], Coroutine[Any, Any, None]] | None,
) -> Samples:
    client = make_client(test.client, test.target, test.api_key, test.connections)
    alongside = asyncio.create_task(during()) if during else None
    try:
        target = Target(client, test.path, test.timeout_seconds)
        return await open_loop(target, traffic.next, test.rate, test.duration_seconds, progress)
    finally:
        await client.aclose()
        if alongside is not None:
            await alongside


def describe(summary: Summary) -> str:
    """The few lines the command prints when the run is over."""
    latency = summary.latency_ms
    lines = [
        f"achieved {summary.achieved_rate:.1f} requests/s over {summary.duration:.1f} s; "
        f"{summary.errors} errors; statuses {summary.statuses}",
        "latency from intended send time (ms): "
        + ", ".join(f"{name} {value:.2f}" for name, value in latency.items()),
    ]
    warning = behind_warning(summary)
    return "\n".join([*lines, warning.replace("**", "")] if warning else lines)
