"""`make bench`, recording on vs off: /v1/score on two services started side by side, one
recording every decision (the default), one with `RISKSCORE_RECORDING=false`, measured in
alternating rounds so that the machine's noise falls on both alike.

stacks (each: 2 workers, private Redis and PostgreSQL) -> warm up -> rounds of max throughput,
alternating, each after the recorder has caught up (no round pays for the last one's records)
-> 1-connection latency of each -> ratio recorded / not recorded (target >= 0.95).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from load_tests.bench import SCORE, Bench, Phase
from load_tests.report import markdown_table
from load_tests.stack import running_stack
from load_tests.traffic import simulated_pool

TARGET_RATIO = 0.95
# "on": the default (each worker also runs a recorder, on the same cores); "sink": recording
# with RISKSCORE_RECORDER=off, what the score path itself pays when the recorder runs
# elsewhere (`riskscore recorder`, not started here: the stream just grows); "off": none.
MODES: dict[str, dict[str, str]] = {
    "on": {},
    "sink": {"RISKSCORE_RECORDER": "off"},
    "off": {"RISKSCORE_RECORDING": "false"},
}


def compare_recording(
    out_dir: Path, connections: int, seconds: float, rounds: int
) -> dict[str, Any]:
    pool = simulated_pool()
    with contextlib.ExitStack() as stacks:
        benches = {
            mode: Bench(
                stacks.enter_context(running_stack(out_dir / f"recording-{mode}", env=env)),
                pool,
                connections,
            )
            for mode, env in MODES.items()
        }
        for bench in benches.values():
            bench.closed(SCORE, connections, 3.0)  # warm up
        rounds_of: dict[str, list[Phase]] = {mode: [] for mode in MODES}
        for _ in range(rounds):
            for mode, bench in benches.items():
                # The in-process recorder finishes the last round's records first (the "sink"
                # stack has no recorder: its stream only grows, as with one elsewhere).
                benches["on"].stack.wait_recorded()
                rounds_of[mode].append(bench.closed(SCORE, connections, seconds))
        single = {mode: bench.closed(SCORE, 1, seconds) for mode, bench in benches.items()}
    best = {m: max(r, key=lambda phase: phase.summary.achieved_rate) for m, r in rounds_of.items()}
    return {
        "rounds": {m: [phase.as_dict() for phase in r] for m, r in rounds_of.items()},
        "max": {m: phase.as_dict() for m, phase in best.items()},
        "single": {m: phase.as_dict() for m, phase in single.items()},
        "ratio": best["on"].summary.achieved_rate / best["off"].summary.achieved_rate,
        "sink_ratio": best["sink"].summary.achieved_rate / best["off"].summary.achieved_rate,
    }


def recording_table(results: dict[str, Any], connections: int) -> str:
    best, single = results["max"], results["single"]

    def rate(mode: str) -> str:
        return f"{best[mode]['summary']['achieved_rate']:.0f}"

    def one(mode: str, name: str) -> str:
        return f"{single[mode]['summary']['service_ms'][name]:.2f}"

    rows = [
        (f"/v1/score max throughput, {connections} connections (req/s)", rate("off"),
         rate("sink"), rate("on"),
         f"ratios **{results['sink_ratio']:.2f}** / **{results['ratio']:.2f}**",
         f">= {TARGET_RATIO}"),
        ("1 connection p50 (ms)", one("off", "p50"), one("sink", "p50"), one("on", "p50"), "",
         "same within noise"),
        ("1 connection p99 (ms)", one("off", "p99"), one("sink", "p99"), one("on", "p99"), "",
         ""),
    ]  # fmt: skip
    header = ("measure", "recording off", "on, recorder elsewhere", "on, recorder in-process")
    return markdown_table((*header, "", "target"), rows)
