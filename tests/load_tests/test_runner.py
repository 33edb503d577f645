"""The generators against the real service under uvicorn (conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from feature_store.redis_server import free_port
from load_tests.clients import CLIENTS, make_client
from load_tests.runner import Target, closed_loop, open_loop, run
from load_tests.samples import BEHIND_LAG_SECONDS, OUTCOMES, Samples, Summary
from load_tests.traffic import Pool, Traffic
from tests.load_tests.conftest import KEY, Served


def _open(url: str, traffic: Traffic, rate: float, seconds: float, client: str = "raw") -> Samples:
    async def go() -> Samples:
        http = make_client(client, url, KEY, 32)
        try:
            return await open_loop(Target(http), traffic.next, rate, seconds)
        finally:
            await http.aclose()

    return run(go())


@pytest.mark.parametrize("client", CLIENTS)
def test_open_loop_sends_at_the_rate_and_every_reply_is_classified(
    served: Served, pool: Pool, client: str
) -> None:
    samples = _open(served.url, Traffic(pool, seed=1), rate=100, seconds=1.0, client=client)
    summary = Summary.of(samples)
    # The schedule is the rate: 100 requests due 10 ms apart. Whether they left on time is
    # the machine's business, recorded as lag (`Summary.behind`), never asserted here: the
    # rate a generator keeps up with is measured by `make bench` and `riskscore loadtest`.
    assert summary.requests == 100
    assert np.allclose(np.diff(samples.intended), 0.01)
    assert (samples.dispatched >= samples.intended).all()  # never early
    lag = samples.dispatched - samples.intended
    assert summary.behind == (
        (lag > BEHIND_LAG_SECONDS).mean() > 0.01
    )  # lateness is reported, not hidden
    assert summary.errors == 0, summary.outcomes
    assert summary.statuses.get("422", 0) == summary.kinds.get("invalid", 0)


def test_open_loop_charges_a_server_stall_to_every_request_it_delayed(
    served: Served, pool: Pool
) -> None:
    """No coordinated omission: requests due during a 0.4 s stall wait for its end, and their
    latency runs from when they were due, not from when a connection got to send them."""

    async def go() -> Samples:
        http = make_client("raw", served.url, KEY, 4)  # fewer connections than stalled requests
        served.stall(after_seconds=0.5, for_seconds=0.4)
        try:
            return await open_loop(Target(http), Traffic(pool, seed=2).next, 200, 1.5)
        finally:
            await http.aclose()

    samples = run(go())
    due_in_stall = (samples.intended > 0.6) & (samples.intended < 0.8)
    # due 0.6-0.8 s, released at about 0.9 s: each waited about 0.1 s or more (unstalled: ~1 ms)
    assert (samples.latency[due_in_stall] > 0.05).all()
    assert Summary.of(samples).latency_ms["p90"] > 80


def test_closed_loop_keeps_each_connection_busy(served: Served, pool: Pool) -> None:
    async def go() -> Samples:
        http = make_client("raw", served.url, KEY, 4)
        try:
            return await closed_loop(Target(http, "/v1/echo"), Traffic(pool).next, 4, 0.5)
        finally:
            await http.aclose()

    samples = run(go())
    assert len(samples) > 20
    assert (samples.latency == samples.service).all()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_server_that_is_not_there_gives_no_answer_not_a_crash(pool: Pool, client: str) -> None:
    samples = _open(f"http://127.0.0.1:{free_port()}", Traffic(pool), 50, 0.2, client)
    assert set(samples.outcome.tolist()) == {OUTCOMES.index("no_answer")}
    assert Summary.of(samples).errors == len(samples)


def test_no_request_leaves_before_its_intended_time(served: Served, pool: Pool) -> None:
    samples = _open(served.url, Traffic(pool, seed=4), rate=300, seconds=1.0)
    assert (samples.dispatched >= samples.intended).all()
    assert (samples.latency > 0).all()
