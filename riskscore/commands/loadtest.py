"""`riskscore loadtest`: an open-loop, constant-arrival-rate load test of a running service
(load_tests/loadtest.py), with a progress bar and a report folder."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

KEY_VARIABLE = "RISKSCORE_LOADTEST_KEY"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "loadtest",
        help="load a running service at a constant rate and write a report",
        description="Send simulated traffic (ordinary customers, hot cards, card-testing "
        "bursts, retries, a few invalid requests) to POST /v1/score at a constant arrival "
        "rate. Latency runs from each request's intended send time, so a stalled server is "
        "not hidden (no coordinated omission). Writes report.md, summary.json and two PNG "
        "charts. See load_tests/README.md.",
    )
    parser.add_argument("--target", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds")
    parser.add_argument(
        "--key",
        default=os.environ.get(KEY_VARIABLE),
        help=f"API key with the score scope (default: ${KEY_VARIABLE}, else the development "
        "key, which only a --dev server accepts)",
    )
    parser.add_argument("--out", type=Path, help="report folder (default: reports/loadtest-<time>)")
    parser.add_argument("--connections", type=int, default=64, help="at most (default 64)")
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="httpx (default; any URL) or raw: a lean HTTP/1.1 client for http:// URLs, for "
        "rates above a few hundred per second with the generator on the server's machine",
    )
    parser.add_argument(
        "--mix",
        help="shares, e.g. ordinary=0.8,hot_card=0.07,card_testing=0.05,"
        "retry=0.05,invalid=0.03 (the default)",
    )
    parser.add_argument("--seed", type=int, default=0, help="traffic seed (default 0)")
    parser.add_argument("--path", default="/v1/score", help="/v1/score (default) or /v1/echo")
    parser.set_defaults(handler=_loadtest)


def _loadtest(args: argparse.Namespace) -> int:
    try:
        from load_tests.loadtest import LoadTest, describe, run_load_test
        from load_tests.traffic import TrafficError, TrafficMix
    except ImportError as exc:  # the service image has neither load_tests/ nor pandas
        sys.stderr.write(
            f"error: riskscore loadtest runs from a checkout with the training and dev extras "
            f"({exc.name} is missing): pip install -e '.[training,dev]'\n"
        )
        return 2
    from service.settings import DEVELOPMENT_API_KEY

    if args.rate <= 0 or args.duration <= 0 or args.connections < 1:
        sys.stderr.write("error: --rate and --duration must be > 0, --connections >= 1\n")
        return 2
    try:
        mix = TrafficMix.parse(args.mix) if args.mix else TrafficMix()
        mix.probabilities()
    except TrafficError as exc:
        sys.stderr.write(f"error: --{exc}\n")
        return 2
    out = args.out or Path("reports") / f"loadtest-{time.strftime('%Y%m%d-%H%M%S')}"
    test = LoadTest(
        target=args.target.rstrip("/"),
        rate=args.rate,
        duration_seconds=args.duration,
        api_key=args.key or DEVELOPMENT_API_KEY,
        out_dir=out,
        connections=args.connections,
        client=args.client,
        path=args.path,
        mix=mix,
        seed=args.seed,
    )
    try:
        summary = run_load_test(test)
    except ValueError as exc:  # e.g. the raw client given an https:// URL
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write(describe(summary) + f"\nreport: {out / 'report.md'}\n")
    return 0 if summary.errors == 0 else 1
