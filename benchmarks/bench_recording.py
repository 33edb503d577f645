"""Recording throughput: decision records (about 3.9 KB of JSON each) into PostgreSQL.

    .venv/bin/python -m benchmarks.bench_recording [--records 200000] [--batch 5000] [--writers 2]
        [--cases]

Starts a private PostgreSQL (fsync on, the default durability) and a private Redis. Measures
(1) the database alone: `DecisionWriter` batches (claim the ids, binary COPY) from memory; with
`--writers N`, also N writer processes at once, each with its own connection and share of the
records (N recorders on N cores); (2) the whole recorder: records waiting in the Redis stream,
read with XREADGROUP, written, acknowledged and trimmed. Each phase writes fresh transaction
ids. Every phase reports the CPU per record of Python and of the PostgreSQL server, the first
also the WAL it wrote per record. `--cases`
adds the review queue's batch hook (`cases.opening.open_cases`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import threading
import time
from dataclasses import dataclass

import numpy as np
import orjson
import psutil
import psycopg
from redis.asyncio import Redis

from cases.opening import open_cases
from feature_store.redis_server import RedisServer
from record import partitions, schema
from record.recorder import Recorder, RecorderSettings
from record.server import PostgresServer
from record.sink import FIELD, STREAM
from record.writer import BatchHook, DecisionWriter
from scoring.record_codec import FEATURE_ORDER
from tests.record.records import make_record

NUMPY = orjson.OPT_SERIALIZE_NUMPY
LAYOUTS = (FEATURE_ORDER,)  # the score path's feature layout, registered by the writers


def bodies(prefix: str, count: int) -> list[bytes]:
    """`count` distinct records; a few hundred generated, the rest differ in their id. Each has
    an attribution per feature, float32 as the score path writes them, and the feature values
    by position (record version 3): about 3.9 KB a record, as the service's explained ones."""
    rng = np.random.default_rng(7)
    templates = []
    for i in range(500):
        record = make_record(f"{prefix}-{i:09d}")
        attributions = rng.normal(0, 0.3, len(record["features"])).astype(np.float32)
        templates.append(orjson.dumps({**record, "attributions": attributions}, option=NUMPY))
    out = []
    for i in range(count):
        template = templates[i % len(templates)]
        old = f"{prefix}-{i % len(templates):09d}".encode()
        out.append(template.replace(old, f"{prefix}-{i:09d}".encode(), 1))
    return out


@dataclass(frozen=True)
class Clocks:
    """Wall time, this process's CPU, and the CPU of every process of the PostgreSQL server
    (its backends, WAL writer, checkpointer: user + system) at one moment."""

    wall: float
    python_cpu: float
    postgres_cpu: float

    @classmethod
    def now(cls, postmaster: psutil.Process) -> Clocks:
        processes = [postmaster, *postmaster.children(recursive=True)]
        server = 0.0
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                server += times.user + times.system
        return cls(time.perf_counter(), time.process_time(), server)

    def since(self, start: Clocks) -> Clocks:
        return Clocks(
            self.wall - start.wall,
            self.python_cpu - start.python_cpu,
            self.postgres_cpu - start.postgres_cpu,
        )


async def writer_alone(
    url: str, postmaster: psutil.Process, records: list[bytes], batch: int, hooks: list[BatchHook]
) -> Clocks:
    writer = DecisionWriter(hooks, LAYOUTS)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await partitions.maintain(connection)
        wal_before = await _wal_position(connection)
        started = Clocks.now(postmaster)
        for low in range(0, len(records), batch):  # as the recorder calls it: autocommit
            await writer.write(connection, records[low : low + batch])
        elapsed = Clocks.now(postmaster).since(started)
        wal_bytes = await _wal_position(connection) - wal_before
        print(f"  WAL written: {wal_bytes / len(records):,.0f} B a record")
        return elapsed


async def _wal_position(connection: psycopg.AsyncConnection) -> int:
    """Bytes of WAL the server has written since it was created (`pg_current_wal_lsn`)."""
    cursor = await connection.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
    found = await cursor.fetchone()
    assert found is not None
    return int(found[0])


def parallel_writers(
    url: str,
    postmaster: psutil.Process,
    records: list[bytes],
    batch: int,
    writers: int,
    hooks: list[BatchHook],
) -> Clocks:
    """`writers` processes (forked: each inherits its share, nothing pickled) write at once.
    Their backends are measured before they disconnect (a backend's CPU goes with it)."""
    context = multiprocessing.get_context("fork")
    ready, done = context.Barrier(writers + 1), context.Barrier(writers + 1)
    release = context.Event()
    spent: multiprocessing.Queue[float] = context.Queue()
    shares = [records[i::writers] for i in range(writers)]
    processes = [
        context.Process(
            target=_write_share, args=(url, share, batch, hooks, (ready, done), release, spent)
        )
        for share in shares
    ]
    for process in processes:
        process.start()
    ready.wait()  # every writer connected
    started = Clocks.now(postmaster)
    done.wait()  # every writer wrote its share, still connected
    elapsed = Clocks.now(postmaster).since(started)
    release.set()
    python_cpu = sum(spent.get() for _ in processes)
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a writer process exited with {process.exitcode}")
    return Clocks(elapsed.wall, python_cpu, elapsed.postgres_cpu)


def _write_share(
    url: str,
    records: list[bytes],
    batch: int,
    hooks: list[BatchHook],
    barriers: tuple[threading.Barrier, threading.Barrier],
    release: threading.Event,
    spent: multiprocessing.Queue[float],
) -> None:
    async def write() -> float:
        writer = DecisionWriter(hooks, LAYOUTS)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            barriers[0].wait()
            cpu = time.process_time()
            for low in range(0, len(records), batch):
                await writer.write(connection, records[low : low + batch])
            cpu = time.process_time() - cpu
            barriers[1].wait()
            release.wait()
            return cpu

    spent.put(asyncio.run(write()))


async def fill_stream(redis: Redis, records: list[bytes]) -> None:
    for low in range(0, len(records), 1_000):
        async with redis.pipeline(transaction=False) as pipe:
            for body in records[low : low + 1_000]:
                pipe.xadd(STREAM, {FIELD: body})
            await pipe.execute()


async def whole_recorder(
    redis_url: str,
    url: str,
    postmaster: psutil.Process,
    records: list[bytes],
    batch: int,
    hooks: list[BatchHook],
) -> Clocks:
    redis = Redis.from_url(redis_url)
    await fill_stream(redis, records)
    recorder = Recorder(
        redis, url, RecorderSettings(batch_size=batch, block_ms=100), hooks, LAYOUTS
    )
    task = asyncio.create_task(recorder.run())
    started = Clocks.now(postmaster)
    while recorder.counters.recorded < len(records):
        await asyncio.sleep(0.01)
        if task.done():
            task.result()
    elapsed = Clocks.now(postmaster).since(started)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    left = await redis.xlen(STREAM)
    await recorder.aclose()
    await redis.aclose()
    print(f"  stream entries left after trimming: {left}")
    return elapsed


def report(name: str, count: int, clocks: Clocks, size: int) -> None:
    seconds = clocks.wall
    print(
        f"{name}: {count:,} records in {seconds:.2f} s = {count / seconds:,.0f} decisions/s "
        f"({size / seconds / 1e6:.0f} MB/s of JSON); CPU per record: Python "
        f"{clocks.python_cpu / count * 1e6:.0f} us, "
        f"PostgreSQL {clocks.postgres_cpu / count * 1e6:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--writers", type=int, default=2, help="processes of the parallel phase")
    parser.add_argument(
        "--cases",
        action="store_true",
        help="with the review queue's batch hook (a quarter of the records are reviews: each "
        "opens or links a case)",
    )
    args = parser.parse_args()
    hooks: list[BatchHook] = [open_cases] if args.cases else []
    first, second = bodies("w", args.records), bodies("r", args.records)
    third = bodies("p", args.records) if args.writers > 1 else []
    size = sum(map(len, first))
    print(f"{args.records:,} records of {size / args.records:,.0f} B mean JSON")
    with PostgresServer() as postgres, RedisServer() as redis_server:
        schema.upgrade(postgres.url)
        assert postgres.process is not None
        postmaster = psutil.Process(postgres.process.pid)
        clocks = asyncio.run(writer_alone(postgres.url, postmaster, first, args.batch, hooks))
        report("PostgreSQL alone (DecisionWriter)", args.records, clocks, size)
        if third:
            clocks = parallel_writers(
                postgres.url, postmaster, third, args.batch, args.writers, hooks
            )
            report(f"PostgreSQL alone, {args.writers} writer processes", args.records, clocks, size)
        clocks = asyncio.run(
            whole_recorder(redis_server.url, postgres.url, postmaster, second, args.batch, hooks)
        )
        report("recorder (stream -> PostgreSQL -> XACK)", args.records, clocks, size)


if __name__ == "__main__":
    main()
