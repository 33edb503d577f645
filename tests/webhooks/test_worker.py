"""The delivery worker against a real PostgreSQL and a real receiver on a free port: signed
deliveries, retries with backoff, dead letters and replay, redirects, a worker killed while
sending, two workers sharing the queue."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from tests.record.conftest import connect, run
from tests.webhooks.conftest import SECRET, statuses, subscribe
from tests.webhooks.receiver import Receiver
from webhooks import deliveries
from webhooks.outbox import emit
from webhooks.sealing import Sealer
from webhooks.worker import DeliverySettings, DeliveryWorker, backoff_seconds

pytestmark = pytest.mark.postgres
T = TypeVar("T")
QUICK = DeliverySettings(
    concurrency=4, timeout_seconds=2, backoff_base_seconds=0.05, backoff_cap_seconds=0.2,
    poll_seconds=0.05,
)  # fmt: skip
# A failed delivery is not due again within a test.
SLOW = DeliverySettings(timeout_seconds=2, backoff_base_seconds=600, backoff_cap_seconds=600)


async def _emit(url: str, count: int = 1, kind: str = "case.opened") -> list[str]:
    ids = []
    async with await connect(url) as connection:
        for number in range(count):
            event_id = await emit(connection, kind, {"case_id": f"c-{number}"})
            assert event_id is not None
            ids.append(event_id)
    return ids


async def _while_working(worker: DeliveryWorker, until: Callable[[], Awaitable[T]]) -> T:
    """Run `worker` until `until` returns something truthy (20 s at most)."""
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(20):
            while True:
                found = await until()
                if found:
                    return found
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.aclose()


def test_a_delivery_arrives_signed_with_its_event_id(record_url: str, sealer: Sealer) -> None:
    with Receiver(secret=SECRET) as receiver:

        async def scenario() -> list[str]:
            await subscribe(record_url, receiver.url, sealer, kinds=("case.opened",))
            ids = await _emit(record_url)
            worker = DeliveryWorker(record_url, sealer, QUICK)
            async with await connect(record_url) as connection:
                await worker.drain(connection)
            await worker.aclose()
            return ids

        (event_id,) = run(scenario())
        (got,) = receiver.received
    assert got.verified and got.event_id == event_id and got.kind == "case.opened"
    assert got.body["id"] == event_id and got.body["data"] == {"case_id": "c-0"}
    assert run(statuses(record_url)) == [("delivered", 1, None)]


def test_failures_are_retried_with_backoff_until_delivered(record_url: str, sealer: Sealer) -> None:
    with Receiver(secret=SECRET, statuses=[500, 503]) as receiver:

        async def scenario() -> Any:
            await subscribe(record_url, receiver.url, sealer, kinds=("case.opened",))
            await _emit(record_url)
            worker = DeliveryWorker(record_url, sealer, QUICK)
            return await _while_working(worker, lambda: _status_is(record_url, "delivered"))

        run(scenario())
    answers = [got.answered for got in receiver.received]
    assert answers == [500, 503, 200]
    assert len({got.event_id for got in receiver.received}) == 1
    assert run(statuses(record_url)) == [("delivered", 3, None)]


async def _status_is(url: str, status: str) -> bool:
    return [s for s, _, _ in await statuses(url)] == [status]


def test_a_failed_delivery_waits_for_its_backoff(record_url: str, sealer: Sealer) -> None:
    with Receiver(secret=SECRET, statuses=[500]) as receiver:

        async def scenario() -> Any:
            await subscribe(record_url, receiver.url, sealer, kinds=("case.opened",))
            await _emit(record_url)
            worker = DeliveryWorker(record_url, sealer, SLOW)
            worker.rng = random.Random(7)  # the jittered delay is then 600 * 0.32...
            expected = backoff_seconds(1, 600, 600, random.Random(7))
            async with await connect(record_url) as connection:
                await worker.drain(connection)  # one attempt: nothing else is due
                cursor = await connection.execute(
                    "SELECT extract(epoch FROM next_attempt_at - last_attempt_at), status "
                    "FROM webhook_deliveries"
                )
                row = await cursor.fetchone()
            await worker.aclose()
            return expected, row

        expected, (delay, status) = run(scenario())
    assert len(receiver.received) == 1 and status == "pending"
    assert expected > 1 and float(delay) == pytest.approx(expected, abs=1.0)


def test_backoff_is_exponential_with_full_jitter_under_the_cap() -> None:
    rng = random.Random(1)
    for attempt in range(1, 12):
        delays = [backoff_seconds(attempt, 10, 3_600, rng) for _ in range(2_000)]
        ceiling = min(3_600, 10 * 2 ** (attempt - 1))
        assert min(delays) >= 0 and max(delays) <= ceiling
        assert max(delays) > 0.9 * ceiling and min(delays) < 0.1 * ceiling  # the whole range


def test_dead_after_the_bound_then_replayed(record_url: str, sealer: Sealer) -> None:
    bounded = DeliverySettings(**{**QUICK.__dict__, "max_attempts": 3})
    with Receiver(secret=SECRET, statuses=[500, 500, 500]) as receiver:

        async def scenario() -> tuple[Any, Any, int]:
            subscription = await subscribe(record_url, receiver.url, sealer, kinds=("case.opened",))
            await _emit(record_url)
            await _while_working(
                DeliveryWorker(record_url, sealer, bounded),
                lambda: _status_is(record_url, "dead"),
            )
            dead = await statuses(record_url)
            async with await connect(record_url) as connection:
                replayed = await deliveries.replay_dead(connection, subscription.subscription_id)
            await _while_working(
                DeliveryWorker(record_url, sealer, bounded),
                lambda: _status_is(record_url, "delivered"),
            )
            return dead, await statuses(record_url), replayed

        dead, after, replayed = run(scenario())
    assert dead == [("dead", 3, "HTTP 500")]
    assert replayed == 1 and after == [("delivered", 1, None)]
    assert [got.answered for got in receiver.received] == [500, 500, 500, 200]
    assert len({got.event_id for got in receiver.received}) == 1


def test_replay_since_sends_delivered_events_again(record_url: str, sealer: Sealer) -> None:
    with Receiver(secret=SECRET) as receiver:

        async def scenario() -> int:
            subscription = await subscribe(record_url, receiver.url, sealer, kinds=("case.opened",))
            await _emit(record_url, count=3)
            worker = DeliveryWorker(record_url, sealer, QUICK)
            async with await connect(record_url) as connection:
                await worker.drain(connection)
                cursor = await connection.execute("SELECT min(created_at) FROM webhook_events")
                row = await cursor.fetchone()
                assert row is not None
                since = row[0] - timedelta(seconds=1)
                replayed = await deliveries.replay_since(
                    connection, subscription.subscription_id, since
                )
                await worker.drain(connection)
            await worker.aclose()
            return replayed

        assert run(scenario()) == 3
    ids = [got.event_id for got in receiver.received]
    assert len(ids) == 6 and len(set(ids)) == 3


def test_a_redirect_to_another_origin_is_not_followed(record_url: str, sealer: Sealer) -> None:
    with (
        Receiver(secret=SECRET) as elsewhere,
        Receiver(secret=SECRET, redirect_to=elsewhere.url) as receiver,
    ):

        async def scenario() -> None:
            await subscribe(record_url, receiver.url, sealer, kinds=("case.opened",))
            await _emit(record_url)
            worker = DeliveryWorker(record_url, sealer, SLOW)
            async with await connect(record_url) as connection:
                await worker.drain(connection)
            await worker.aclose()

        run(scenario())
        assert len(receiver.received) == 1 and not elsewhere.received
    ((status, attempts, error),) = run(statuses(record_url))
    assert (status, attempts) == ("pending", 1) and "another origin" in str(error)


def test_two_workers_share_the_queue_and_send_each_delivery_once(
    record_url: str, sealer: Sealer
) -> None:
    with Receiver(secret=SECRET) as receiver:

        async def scenario() -> list[str]:
            await subscribe(record_url, receiver.url, sealer, kinds=("case.opened",))
            ids = await _emit(record_url, count=60)
            workers = [DeliveryWorker(record_url, sealer, QUICK) for _ in range(2)]

            async def drain(worker: DeliveryWorker) -> None:
                async with await connect(record_url) as connection:
                    await worker.drain(connection)
                await worker.aclose()

            await asyncio.gather(*(drain(worker) for worker in workers))
            assert all(worker.counters.delivered > 0 for worker in workers)
            return ids

        ids = run(scenario())
    assert sorted(got.event_id for got in receiver.received) == sorted(ids)


def test_a_worker_killed_while_sending_leaves_the_delivery_to_the_next(
    record_url: str, sealer: Sealer
) -> None:
    key = os.urandom(32)
    keyed = Sealer(key)
    hold = threading.Event()
    with Receiver(secret=SECRET, hold=hold) as receiver:
        run(subscribe(record_url, receiver.url, keyed, kinds=("case.opened",)))
        (event_id,) = run(_emit(record_url))
        environment = {
            **os.environ,
            "RISKSCORE_WEBHOOK_SECRETS_KEY": base64.b64encode(key).decode(),
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "riskscore.cli", "webhooks", "deliver",
             "--database-url", record_url, "--timeout-seconds", "1"],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert receiver.arrived.wait(30), "the first worker never sent the delivery"
            worker.send_signal(signal.SIGKILL)  # mid-send: the receiver holds the request
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        receiver.hold = None
        hold.set()
        assert run(statuses(record_url))[0][0] == "pending"  # its outcome never recorded
        # The lease (1 s timeout x 4 tries + 5 s) ends; the next worker sends it again.
        run(
            _while_working(
                DeliveryWorker(record_url, keyed, QUICK),
                lambda: _status_is(record_url, "delivered"),
            )
        )
        received = receiver.wait_for(lambda seen: len(seen) >= 2)
    assert {got.event_id for got in received} == {event_id}
    assert all(got.verified for got in received)
    assert run(statuses(record_url)) == [("delivered", 2, None)]
