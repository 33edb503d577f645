"""The two ways of loading a server: an open loop at a constant arrival rate, and a closed loop
of N connections sending as fast as answers come back.

The open loop does not suffer from coordinated omission: request i is due at start + i / rate
whatever happened to the others, and its latency runs from that intended time, so a server
stall is charged to every request it delayed. When the generator itself dispatches requests
late (its CPU is saturated), the lag is recorded and `Summary.behind` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from load_tests.clients import Client, Reply
from load_tests.samples import Recorder, Samples, classify
from load_tests.traffic import Request

DEFAULT_TIMEOUT_SECONDS = 10.0
START_DELAY_SECONDS = 0.05
PROGRESS_SECONDS = 0.5
TIMER_RESOLUTION_SECONDS = 0.001
T = TypeVar("T")

# (requests done, errors so far) -> None, called about twice a second.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Target:
    """Where and how to send: the client, the path and whether replies carry decisions."""

    client: Client
    path: str = "/v1/score"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def decisions(self) -> bool:
        return self.path == "/v1/score"


async def _exchange(target: Target, request: Request) -> Reply:
    try:
        async with asyncio.timeout(target.timeout_seconds):
            return await target.client.post(target.path, request.body)
    except TimeoutError:
        return Reply(0, b"", "timeout")


@contextlib.asynccontextmanager
async def _reporting(recorder: Recorder, progress: Progress | None) -> AsyncIterator[None]:
    """Tell `progress` how far the run is, about twice a second and once at the end."""
    if progress is None:
        yield
        return

    async def tick() -> None:
        while True:
            progress(len(recorder), recorder.error_count)
            await asyncio.sleep(PROGRESS_SECONDS)

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        progress(len(recorder), recorder.error_count)


async def _until(due: float) -> None:
    """Wait for `due` (a perf_counter reading), yielding at least once so replies are read.

    Event loop timers have millisecond resolution and may fire up to a millisecond early, so
    each sleep is a millisecond longer than asked: a request never leaves early, may leave up
    to about a millisecond late (recorded as lag, and counted in its latency), and the
    generator never spins. Spinning out the last millisecond instead cost up to 70 % of a core
    at 700 requests/s, taken from the server under test (docs/performance.md)."""
    slept = False
    while (ahead := due - time.perf_counter()) > 0:
        await asyncio.sleep(ahead + TIMER_RESOLUTION_SECONDS)
        slept = True
    if not slept:
        await asyncio.sleep(0)


async def open_loop(
    target: Target,
    next_request: Callable[[], Request],
    rate: float,
    duration_seconds: float,
    progress: Progress | None = None,
) -> Samples:
    """Send `rate` requests per second for `duration_seconds`, each at its intended time."""
    if rate <= 0 or duration_seconds <= 0:
        raise ValueError("rate and duration must be positive")
    recorder = Recorder()
    count = max(1, round(rate * duration_seconds))
    start = time.perf_counter() + START_DELAY_SECONDS
    in_flight: set[asyncio.Task[None]] = set()

    async def send(request: Request, intended: float, dispatched: float) -> None:
        reply = await _exchange(target, request)
        done = time.perf_counter() - start
        outcome = classify(request, reply, target.decisions)
        recorder.record(request, reply, (intended, dispatched, done), outcome)

    async with _reporting(recorder, progress):
        for index in range(count):
            intended = index / rate
            await _until(start + intended)
            request = next_request()
            task = asyncio.create_task(send(request, intended, time.perf_counter() - start))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)
    return recorder.samples(duration=time.perf_counter() - start, start=start)


async def closed_loop(
    target: Target,
    next_request: Callable[[], Request],
    connections: int,
    duration_seconds: float,
    progress: Progress | None = None,
) -> Samples:
    """`connections` senders, each sending its next request as soon as the last is answered;
    the measure of maximum throughput (latency here is service time, not open-loop latency)."""
    recorder = Recorder()
    start = time.perf_counter()
    deadline = start + duration_seconds

    async def sender() -> None:
        while time.perf_counter() < deadline:
            request = next_request()
            sent = time.perf_counter() - start
            reply = await _exchange(target, request)
            done = time.perf_counter() - start
            outcome = classify(request, reply, target.decisions)
            recorder.record(request, reply, (sent, sent, done), outcome)

    async with _reporting(recorder, progress):
        await asyncio.gather(*(sender() for _ in range(connections)))
    return recorder.samples(duration=time.perf_counter() - start, start=start)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a load on uvloop, the event loop the service itself runs on."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)
