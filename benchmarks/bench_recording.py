"""Recording throughput: decision records (about 3.9 KB of JSON each) into PostgreSQL.

    .venv/bin/python -m benchmarks.bench_recording [--records 200000] [--batch 5000] [--cases]

Starts a private PostgreSQL (fsync on, the default durability) and a private Redis. Measures
(1) the database alone: `DecisionWriter` batches (COPY into staging, INSERT ... ON CONFLICT)
from memory; (2) the whole recorder: records waiting in the Redis stream, read with
XREADGROUP, written, acknowledged and trimmed. Each phase writes fresh transaction ids.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import psycopg
from redis.asyncio import Redis

from cases.opening import open_cases
from feature_store.redis_server import RedisServer
from record import partitions, schema
from record.recorder import Recorder, RecorderSettings
from record.server import PostgresServer
from record.sink import FIELD, STREAM
from record.writer import DecisionWriter
from tests.record.records import record_body


def bodies(prefix: str, count: int) -> list[bytes]:
    """`count` distinct records; a few hundred generated, the rest differ in their id."""
    templates = [record_body(f"{prefix}-{i:09d}") for i in range(500)]
    out = []
    for i in range(count):
        template = templates[i % len(templates)]
        old = f"{prefix}-{i % len(templates):09d}".encode()
        out.append(template.replace(old, f"{prefix}-{i:09d}".encode(), 1))
    return out


async def writer_alone(url: str, records: list[bytes], batch: int, cases: bool) -> float:
    writer = DecisionWriter(hooks=[open_cases] if cases else [])
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await partitions.maintain(connection)
        started = time.perf_counter()
        for low in range(0, len(records), batch):
            async with connection.transaction():
                await writer.write(connection, records[low : low + batch])
        return time.perf_counter() - started


async def fill_stream(redis: Redis, records: list[bytes]) -> None:
    for low in range(0, len(records), 1_000):
        async with redis.pipeline(transaction=False) as pipe:
            for body in records[low : low + 1_000]:
                pipe.xadd(STREAM, {FIELD: body})
            await pipe.execute()


async def whole_recorder(
    redis_url: str, url: str, records: list[bytes], batch: int, cases: bool
) -> float:
    redis = Redis.from_url(redis_url)
    await fill_stream(redis, records)
    settings = RecorderSettings(batch_size=batch, block_ms=100)
    recorder = Recorder(redis, url, settings, [open_cases] if cases else [])
    task = asyncio.create_task(recorder.run())
    started = time.perf_counter()
    while recorder.counters.recorded < len(records):
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    elapsed = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    left = await redis.xlen(STREAM)
    await recorder.aclose()
    await redis.aclose()
    print(f"  stream entries left after trimming: {left}")
    return elapsed


def report(name: str, count: int, seconds: float, size: int) -> None:
    print(
        f"{name}: {count:,} records in {seconds:.2f} s = {count / seconds:,.0f} decisions/s "
        f"({size / seconds / 1e6:.0f} MB/s of JSON)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument(
        "--cases",
        action="store_true",
        help="with the review queue's batch hook (a quarter of the records are reviews: each "
        "opens or links a case)",
    )
    args = parser.parse_args()
    first, second = bodies("w", args.records), bodies("r", args.records)
    size = sum(map(len, first))
    print(f"{args.records:,} records of {size / args.records:,.0f} B mean JSON")
    with PostgresServer() as postgres, RedisServer() as redis_server:
        schema.upgrade(postgres.url)
        seconds = asyncio.run(writer_alone(postgres.url, first, args.batch, args.cases))
        report("PostgreSQL alone (DecisionWriter)", args.records, seconds, size)
        seconds = asyncio.run(
            whole_recorder(redis_server.url, postgres.url, second, args.batch, args.cases)
        )
        report("recorder (stream -> PostgreSQL -> XACK)", args.records, seconds, size)


if __name__ == "__main__":
    main()
