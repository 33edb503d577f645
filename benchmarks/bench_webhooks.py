"""Webhook throughput: events into the outbox, deliveries to a local receiver, and what the
decision.created hook costs the recorder's writer.

    .venv/bin/python -m benchmarks.bench_webhooks [--events 20000] [--concurrency 32]
        [--records 50000] [--writer-only]

Starts a private PostgreSQL (fsync on) and a receiver (uvicorn, one process, verifying every
signature: `load_tests/webhook_receiver.py`) on free ports. Measures (1) `emit_many` of events
in batches of 1,000; (2) one delivery worker sending them all (claimed with SKIP LOCKED,
signed, recorded) until every one is delivered, against httpx POSTing straight to the receiver
at the same concurrency (the ratio is what holds on a noisy machine); (3) `DecisionWriter`
batches of 5,000 records (the 6.6 KB records of `bench_recording`) with no hook, with the hook
and no subscription, with one subscription to declines and reviews, and with one to every
decision: decisions/s and the CPU per record of Python and of the PostgreSQL server.
`--writer-only` measures (3) alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import httpx
import psutil
import psycopg

from benchmarks.bench_recording import LAYOUTS, Clocks, bodies
from load_tests.webhook_receiver import receiving
from record import partitions, schema
from record.server import PostgresServer
from record.writer import BatchHook, DecisionWriter
from webhooks import subscriptions
from webhooks.outbox import emit_many
from webhooks.sealing import Sealer
from webhooks.signing import sign
from webhooks.sources import decisions_created
from webhooks.subscriptions import SubscriptionSpec
from webhooks.worker import DeliverySettings, DeliveryWorker

SECRET = "whsec_benchmark_0123456789abcdef"
EMIT_BATCH = 1_000
WRITER_BATCH = 5_000


async def raw_posts(target: str, count: int, concurrency: int) -> float:
    """The baseline: signed POSTs of httpx straight to the receiver, no queue."""
    body = b'{"id":"e","kind":"case.opened","data":{"note":"' + b"x" * 200 + b'"}}'
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        gate = asyncio.Semaphore(concurrency)

        async def post() -> None:
            async with gate:
                headers = {"Riskscore-Signature": sign(SECRET, body)}
                (await client.post(target, content=body, headers=headers)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(count)))
        return time.perf_counter() - started


async def subscribe(url: str, target: str, sealer: Sealer, outcomes: list[str] | None) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        spec = SubscriptionSpec(target, ["decision.created", "case.opened"], outcomes)
        created = await subscriptions.create(connection, spec, SECRET, sealer, "bench")
        return created.subscription_id


async def clear_subscriptions(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute("DELETE FROM webhook_subscriptions")


async def enqueue(url: str, count: int) -> float:
    payload = {"case_id": "c", "transaction_id": "t", "note": "x" * 200}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        started = time.perf_counter()
        for low in range(0, count, EMIT_BATCH):
            events = [{**payload, "n": n} for n in range(low, min(count, low + EMIT_BATCH))]
            async with connection.transaction():
                await emit_many(connection, "case.opened", events)
        return time.perf_counter() - started


async def deliver(url: str, sealer: Sealer, count: int, concurrency: int) -> tuple[float, int]:
    settings = DeliverySettings(concurrency=concurrency, poll_seconds=0.05)
    worker = DeliveryWorker(url, sealer, settings)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        started = time.perf_counter()
        await worker.drain(connection)
        elapsed = time.perf_counter() - started
    await worker.aclose()
    assert worker.counters.delivered == count, worker.counters
    return elapsed, worker.counters.retried


async def write(
    url: str, postmaster: psutil.Process, prefix: str, count: int, hooks: list[BatchHook]
) -> Clocks:
    writer = DecisionWriter(hooks, LAYOUTS)
    records = bodies(prefix, count)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await partitions.maintain(connection)
        started = Clocks.now(postmaster)
        for low in range(0, count, WRITER_BATCH):
            await writer.write(connection, records[low : low + WRITER_BATCH])
        return Clocks.now(postmaster).since(started)


async def writer_costs(
    url: str, postmaster: psutil.Process, target: str, sealer: Sealer, count: int
) -> None:
    # (name, hooks, subscribed, outcome filter)
    cases: list[tuple[str, list[BatchHook], bool, list[str] | None]] = [
        ("no hook", [], False, None),
        ("hook, no subscription", [decisions_created], False, None),
        (
            "hook, 1 subscription to decline+review",
            [decisions_created],
            True,
            ["decline", "review"],
        ),
        ("hook, 1 subscription to every decision", [decisions_created], True, None),
    ]
    for number, (name, hooks, subscribed, outcomes) in enumerate(cases):
        await clear_subscriptions(url)
        if subscribed:
            await subscribe(url, target, sealer, outcomes)
        clocks = await write(url, postmaster, f"w{number}", count, hooks)
        print(f"  writer, {name}: {count / clocks.wall:,.0f} decisions/s; CPU per record: "
              f"Python {clocks.python_cpu / count * 1e6:.0f} us, "
              f"PostgreSQL {clocks.postgres_cpu / count * 1e6:.0f} us")  # fmt: skip


def outbox_and_delivery(
    url: str, target: str, sealer: Sealer, events: int, concurrency: int
) -> None:
    asyncio.run(subscribe(url, target, sealer, None))
    seconds = asyncio.run(enqueue(url, events))
    print(f"outbox: {events:,} events in {seconds:.2f} s = {events / seconds:,.0f} events/s "
          f"(emit_many, batches of {EMIT_BATCH})")  # fmt: skip
    seconds, retried = asyncio.run(deliver(url, sealer, events, concurrency))
    delivered = events / seconds
    print(f"delivery: {events:,} signed deliveries in {seconds:.2f} s = "
          f"{delivered:,.0f} deliveries/s (1 worker, concurrency "
          f"{concurrency}, {retried} retried)")  # fmt: skip
    raw = events / asyncio.run(raw_posts(target, events, concurrency))
    print(f"baseline: httpx POSTs straight to the receiver, same concurrency: {raw:,.0f}/s"
          f" (delivery = {delivered / raw:.2f} of it)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument(
        "--writer-only", action="store_true", help="only the recorder writer's hook costs"
    )
    args = parser.parse_args()
    sealer = Sealer(os.urandom(32))
    with receiving(SECRET) as target, PostgresServer() as postgres:
        schema.upgrade(postgres.url)
        assert postgres.process is not None
        postmaster = psutil.Process(postgres.process.pid)
        if not args.writer_only:
            outbox_and_delivery(postgres.url, target, sealer, args.events, args.concurrency)
        print(f"recorder writer, {args.records:,} records in batches of {WRITER_BATCH}:")
        asyncio.run(writer_costs(postgres.url, postmaster, target, sealer, args.records))


if __name__ == "__main__":
    main()
