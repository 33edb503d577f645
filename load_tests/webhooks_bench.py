"""`make bench` (or `python -m load_tests.webhooks_bench` alone), webhooks on vs off: /v1/score
on services started side by side, one with no subscription and its delivery workers off, the
others with a subscription that a local receiver (verifying every signature) takes, measured
in alternating rounds. Before each round every stack finishes what the last left it (records to
write, events to deliver), so no round pays for another's backlog.

stacks (each: 2 workers, private Redis and PostgreSQL; "every": a subscription to every
decision; "risky": to review, challenge and decline) -> warm up -> rounds (settle, then max
throughput), alternating, each round starting with the next mode -> ratio on / off (target
>= 0.95) and the workers' CPU per request -> what each subscription got delivered.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import httpx

from load_tests.bench import SCORE, Bench, Phase
from load_tests.report import markdown_table
from load_tests.stack import API_KEY, Stack, running_stack
from load_tests.traffic import simulated_pool
from load_tests.webhook_receiver import receiving

TARGET_RATIO = 0.95
SECRET = "whsec_load_test_0123456789abcdef"
SUBSCRIPTIONS = "/v1/admin/webhooks/subscriptions"
DRAIN_SECONDS = 60.0
# mode -> (service environment, the subscription's outcome filter; None: no subscription)
MODES: dict[str, tuple[dict[str, str], list[str] | None]] = {
    "off": ({"RISKSCORE_WEBHOOKS": "off"}, None),
    "risky": ({}, ["review", "challenge", "decline"]),
    "every": ({}, ["approve", "review", "challenge", "decline"]),
}


def _subscribe(stack: Stack, target: str, outcomes: list[str]) -> str:
    body = {"url": target, "kinds": ["decision.created"], "outcomes": outcomes, "secret": SECRET}
    reply = httpx.post(
        stack.url + SUBSCRIPTIONS, json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    reply.raise_for_status()
    return str(reply.json()["subscription_id"])


def _deliveries(stack: Stack, subscription_id: str) -> dict[str, int]:
    """The subscription's deliveries by status, once none is pending (or after a minute)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        reply = httpx.get(f"{stack.url}{SUBSCRIPTIONS}/{subscription_id}", headers=headers)
        counts: dict[str, int] = reply.json()["deliveries"]
        if not counts["pending"] or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def _settle(benches: dict[str, Bench], subscribed: dict[str, str]) -> None:
    """Let every stack finish what the last round left it (records to write, events to
    deliver) before the next is measured: otherwise a round pays for the one before it, on
    another stack (the 2 cores are shared)."""
    for bench in benches.values():
        bench.stack.wait_recorded(DRAIN_SECONDS)
    for mode, subscription_id in subscribed.items():
        _deliveries(benches[mode].stack, subscription_id)


def compare_webhooks(
    out_dir: Path, connections: int, seconds: float, rounds: int
) -> dict[str, Any]:
    pool = simulated_pool()
    with contextlib.ExitStack() as stacks:
        target = stacks.enter_context(receiving(SECRET))
        benches, subscribed = {}, {}
        for mode, (env, outcomes) in MODES.items():
            stack = stacks.enter_context(running_stack(out_dir / f"webhooks-{mode}", env=env))
            benches[mode] = Bench(stack, pool, connections)
            if outcomes is not None:
                subscribed[mode] = _subscribe(stack, target, outcomes)
        for bench in benches.values():
            bench.closed(SCORE, connections, 3.0)  # warm up
        rounds_of: dict[str, list[Phase]] = {mode: [] for mode in MODES}
        order = list(MODES)
        for number in range(rounds):
            # Each round starts with another mode: no mode always follows the same one.
            for mode in order[number % len(order) :] + order[: number % len(order)]:
                _settle(benches, subscribed)
                rounds_of[mode].append(benches[mode].closed(SCORE, connections, seconds))
        delivered = {m: _deliveries(benches[m].stack, sid) for m, sid in subscribed.items()}
    best = {m: max(r, key=lambda phase: phase.summary.achieved_rate) for m, r in rounds_of.items()}
    off = best["off"].summary.achieved_rate
    return {
        "rounds": {m: [phase.as_dict() for phase in r] for m, r in rounds_of.items()},
        "max": {m: phase.as_dict() for m, phase in best.items()},
        "ratios": {m: best[m].summary.achieved_rate / off for m in subscribed},
        # CPU the workers spent per request over all rounds (deliveries included): steadier
        # than throughput when other processes take the cores. With PostgreSQL (the
        # recorder's hook writes the events there) and Redis: all the score path's box spent.
        "cpu_us_per_request": {m: _cpu_per_request(r, WORKERS) for m, r in rounds_of.items()},
        "all_cpu_us_per_request": {m: _cpu_per_request(r, ALL) for m, r in rounds_of.items()},
        "deliveries": delivered,
    }


WORKERS, ALL = ("workers",), ("workers", "postgres", "redis")


def _cpu_per_request(phases: list[Phase], parts: tuple[str, ...]) -> float:
    seconds = sum(phase.server_cpu_seconds.get(part, 0.0) for phase in phases for part in parts)
    return seconds / max(sum(phase.summary.requests for phase in phases), 1) * 1e6


def webhooks_table(results: dict[str, Any], connections: int) -> str:
    best, ratios, delivered = results["max"], results["ratios"], results["deliveries"]

    def rate(mode: str) -> str:
        return f"{best[mode]['summary']['achieved_rate']:.0f}"

    rows = [
        (f"/v1/score max throughput, {connections} connections (req/s)", rate("off"),
         rate("risky"), rate("every"),
         f"ratios **{ratios['risky']:.2f}** / **{ratios['every']:.2f}**", f">= {TARGET_RATIO}"),
        ("workers' CPU per request, all rounds (us)",
         *(f"{results['cpu_us_per_request'][m]:.0f}" for m in ("off", "risky", "every")),
         "", "lower is better"),
        ("CPU per request of workers, PostgreSQL and Redis, all rounds (us)",
         *(f"{results['all_cpu_us_per_request'][m]:.0f}" for m in ("off", "risky", "every")),
         "", "lower is better"),
        ("deliveries (delivered / pending / dead)", "",
         "{delivered} / {pending} / {dead}".format(**delivered["risky"]),
         "{delivered} / {pending} / {dead}".format(**delivered["every"]), "", "none pending"),
    ]  # fmt: skip
    header = ("measure", "no subscription", "review+challenge+decline", "every decision")
    return markdown_table((*header, "", "target"), rows)


def main(argv: list[str] | None = None) -> int:
    """`python -m load_tests.webhooks_bench`: this comparison alone (`make bench` runs it too)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m load_tests.webhooks_bench")
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = compare_webhooks(args.out, args.connections, args.seconds, args.rounds)
    (args.out / "webhooks.json").write_text(json.dumps(results, indent=2) + "\n")
    print(webhooks_table(results, args.connections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
