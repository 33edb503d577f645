"""What the edge's checks of a request body cost, in process: JSON parsing alone, with the
duplicated-key and card-number checks, and with the body model, per request.

    .venv/bin/python benchmarks/bench_edge.py [--calls 20000]

The body is the documented score example (11 fields, 15 strings). Each figure is the best of
seven runs of `--calls` calls, in microseconds per call; compare them within one run only.
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from history.card_numbers import looks_like_card_number
from service.edge import parse_json
from service.fields import EventWindow
from service.schemas import SCORE_EXAMPLE, ScoreRequest


def _per_call_us(work: Callable[[], Any], calls: int) -> float:
    return min(timeit.repeat(work, number=calls, repeat=7)) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    body = orjson.dumps({**SCORE_EXAMPLE, "timestamp": datetime.now(UTC).isoformat()})
    context = {"event_window": EventWindow(datetime.now(UTC), 300, 86_400)}
    strings = [v for v in orjson.loads(body).values() if isinstance(v, str)]
    cases: dict[str, Callable[[], Any]] = {
        "orjson.loads (before)": lambda: orjson.loads(body),
        "json.loads, duplicate-key hook": lambda: json.loads(body, object_pairs_hook=dict),
        "edge parse_json (orjson + duplicates + card numbers)": lambda: parse_json(body),
        "card-number check of the body's top-level strings": lambda: [
            looks_like_card_number(s) for s in strings
        ],
        "ScoreRequest.model_validate (before)": lambda: ScoreRequest.model_validate(
            orjson.loads(body)
        ),
        "parse_json + model_validate with the event window": lambda: ScoreRequest.model_validate(
            parse_json(body), context=context
        ),
    }
    print(f"body: {len(body)} bytes; best of 7 x {calls} calls")
    for name, work in cases.items():
        print(f"{name:55s} {_per_call_us(work, calls):7.2f} us")


if __name__ == "__main__":
    main()
