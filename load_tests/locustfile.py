"""Locust users for interactive exploration, with the same simulated traffic as
`riskscore loadtest` (load_tests/traffic.py).

    .venv/bin/locust -f load_tests/locustfile.py --host http://127.0.0.1:8000
    # web UI on http://127.0.0.1:8089; headless:
    .venv/bin/locust -f load_tests/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 200 -r 50 -t 1m --traffic-mix ordinary=0.9,invalid=0.1

Each user is a checkout paced at one request per second (`constant_throughput`), so the
number of users is the offered rate. Locust is a closed loop: when the server slows down the
users wait, so for latency under a fixed arrival rate use `riskscore loadtest`.
"""

from __future__ import annotations

import os
from typing import Any

from locust import FastHttpUser, constant_throughput, events, task

from load_tests.clients import Reply
from load_tests.samples import ERROR_OUTCOMES, classify
from load_tests.traffic import Traffic, TrafficMix, simulated_pool

DEVELOPMENT_KEY = "rs_dev_local_only_7f3a9c"  # service.settings.DEVELOPMENT_API_KEY
_traffic: list[Traffic] = []  # one stream per Locust process, built by the first user


def _options(parser: Any) -> None:
    parser.add_argument(
        "--api-key",
        default=os.environ.get("RISKSCORE_LOADTEST_KEY", DEVELOPMENT_KEY),
        help="API key with the score scope (default: $RISKSCORE_LOADTEST_KEY, else the "
        "development key)",
    )
    parser.add_argument("--traffic-mix", default="", help="e.g. ordinary=0.9,invalid=0.1")
    parser.add_argument("--traffic-seed", type=int, default=0)


events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]


def _stream(options: Any) -> Traffic:
    if not _traffic:
        mix = TrafficMix.parse(options.traffic_mix) if options.traffic_mix else TrafficMix()
        _traffic.append(Traffic(simulated_pool(), mix, seed=options.traffic_seed))
    return _traffic[0]


class Checkout(FastHttpUser):
    """A checkout service scoring its customers' transactions before authorising them."""

    wait_time = constant_throughput(1.0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.traffic = _stream(options)
        self.headers = {
            "Authorization": f"Bearer {options.api_key}",
            "Content-Type": "application/json",
        }

    @task
    def score(self) -> None:
        request = self.traffic.next()
        with self.client.post(
            "/v1/score",
            data=request.body.decode(),
            headers=self.headers,
            name=f"/v1/score [{request.kind}]",
            catch_response=True,
        ) as response:
            reply = Reply(response.status_code or 0, response.content or b"")
            outcome = classify(request, reply)
            if outcome in ERROR_OUTCOMES:
                response.failure(f"{outcome}: status {response.status_code}")
            else:
                response.success()
