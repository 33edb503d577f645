"""Faults on real servers: PostgreSQL stopped 10 s, Redis stopped 10 s, the recorder killed -9
mid-batch. Afterwards every produced record is in PostgreSQL exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import psycopg
import pytest
from redis.asyncio import Redis

from record import schema
from record.recorder import Recorder, RecorderSettings
from record.server import PostgresServer
from record.sink import RecordSink
from record.spool import Spool
from scoring.record_codec import FEATURE_LAYOUT, FEATURE_ORDER
from tests.record.conftest import DurableRedisServer, count_recorded, recorder_process, run
from tests.record.records import record_body

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
OUTAGE_SECONDS = 10.0


async def produce(sink: RecordSink, prefix: str, count: int, seconds: float) -> None:
    """`count` records spread over `seconds`, as a worker would send them."""
    for i in range(count):
        sink.send(record_body(f"{prefix}{i}"))
        await asyncio.sleep(seconds / count)


async def until_recorded(url: str, count: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while await asyncio.to_thread(count_recorded, url) != (count, count, count):
        if time.monotonic() > deadline:
            raise AssertionError(f"recorded {count_recorded(url)} of {count}")
        await asyncio.sleep(0.2)


def test_postgres_stopped_for_10_seconds_loses_nothing(
    redis_url: str, namespace: str, tmp_path: Path
) -> None:
    if os.environ.get("RISKSCORE_TEST_DATABASE_URL"):
        pytest.skip("stops its own private PostgreSQL")
    stream, count = f"{namespace}records", 1_500
    with PostgresServer(fsync=False) as postgres:
        schema.upgrade(postgres.url)

        async def scenario() -> None:
            redis = Redis.from_url(redis_url)
            sink = RecordSink(redis, Spool(tmp_path), stream=stream)
            recorder = Recorder(
                redis, postgres.url, RecorderSettings(stream=stream, retry_seconds=0.2)
            )
            task = asyncio.create_task(recorder.run())
            producing = asyncio.create_task(produce(sink, namespace, count, OUTAGE_SECONDS + 4))
            await asyncio.sleep(2)
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(OUTAGE_SECONDS)
            await asyncio.to_thread(postgres.start)
            await producing
            await until_recorded(postgres.url, count)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await recorder.aclose()
            await sink.aclose()
            await redis.aclose()

        run(scenario())


def test_redis_stopped_for_10_seconds_loses_nothing(
    record_url: str, namespace: str, tmp_path: Path
) -> None:
    stream, count = f"{namespace}records", 1_500
    server = DurableRedisServer().start()

    async def scenario() -> None:
        client = Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        reader = Redis.from_url(server.url, socket_connect_timeout=0.5)
        sink = RecordSink(client, Spool(tmp_path), stream=stream)
        checks = asyncio.create_task(sink.run(interval_seconds=0.2))
        recorder = Recorder(reader, record_url, RecorderSettings(stream=stream, retry_seconds=0.2))
        task = asyncio.create_task(recorder.run())
        producing = asyncio.create_task(produce(sink, namespace, count, OUTAGE_SECONDS + 4))
        await asyncio.sleep(2)
        server.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        server.start()  # same port, same append-only file
        await producing
        await until_recorded(record_url, count)
        assert sink.counters.spooled > 0
        for job in (task, checks):
            job.cancel()
        await asyncio.gather(task, checks, return_exceptions=True)
        await recorder.aclose()
        await sink.aclose()
        await client.aclose()
        await reader.aclose()

    try:
        run(scenario())
    finally:
        server.close()


def test_the_recorder_killed_mid_batch_loses_nothing(
    redis_url: str, record_url: str, namespace: str
) -> None:
    """Also: `riskscore recorder` registers the feature layout of the records it writes."""
    stream, count = f"{namespace}records", 6_000
    with psycopg.connect(record_url, autocommit=True) as connection:
        connection.execute("DELETE FROM feature_layouts")

    async def fill() -> None:
        redis = Redis.from_url(redis_url)
        for low in range(0, count, 500):
            async with redis.pipeline(transaction=False) as pipe:
                for i in range(low, low + 500):
                    pipe.xadd(stream, {"r": record_body(f"{namespace}{i}")})
                await pipe.execute()
        await redis.aclose()

    run(fill())
    first = recorder_process(redis_url, record_url, stream, "recorder-a")
    try:
        deadline = time.monotonic() + 60
        while count_recorded(record_url)[0] == 0:  # kill it with batches in flight
            assert time.monotonic() < deadline, "the recorder recorded nothing"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert count_recorded(record_url)[0] < count
        second = recorder_process(redis_url, record_url, stream, "recorder-b")
        try:
            run(until_recorded(record_url, count))
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    with psycopg.connect(record_url) as connection:
        layouts = connection.execute("SELECT * FROM feature_layouts").fetchall()
    assert layouts == [(FEATURE_LAYOUT, list(FEATURE_ORDER))]
