"""The path from worker to database, on real Redis and PostgreSQL: sink -> stream (or spool)
-> recorder -> PostgreSQL, every record exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import orjson
import pytest
from redis.asyncio import Redis

from feature_store.redis_server import RedisServer
from feature_store.resp import RespClient
from record.lag import measure_lag
from record.recorder import REFUSED_STREAM, Recorder, RecorderSettings
from record.sink import FIELD, Placement, RecordSink
from record.spool import Spool
from tests.record.conftest import count_recorded, run
from tests.record.records import record_body

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# What redis-py returns for XRANGE without decoding (its stubs give a union of sync and async).
Entries = list[tuple[bytes, dict[bytes, bytes]]]


async def wait_recorded(recorder: Recorder, task: asyncio.Task[None], count: int) -> None:
    async with asyncio.timeout(60):
        while recorder.counters.recorded < count:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_every_sent_record_is_recorded_once_and_trimmed(
    redis_url: str, record_url: str, namespace: str, tmp_path: Path
) -> None:
    stream = f"{namespace}records"

    async def scenario() -> tuple[list[Placement], int, int]:
        client = RespClient.from_url(redis_url)  # the score path's pipelining client
        await client.execute_command("PING")
        sink = RecordSink(client, Spool(tmp_path), stream=stream)
        sent = [sink.send(record_body(f"{namespace}{i}")) for i in range(400)]
        sent += [sink.send(record_body(f"{namespace}{i}")) for i in range(50)]  # resent
        placed = list(await asyncio.gather(*sent))
        redis = Redis.from_url(redis_url)
        recorder = Recorder(redis, record_url, RecorderSettings(stream=stream, batch_size=128))
        task = asyncio.create_task(recorder.run())
        await wait_recorded(recorder, task, 400)
        await asyncio.sleep(0.3)  # the last acknowledgement and trim
        lag = await measure_lag(redis, stream=stream)
        await stop(task)
        left = await redis.xlen(stream)
        await recorder.aclose()
        await redis.aclose()
        await client.aclose()
        assert recorder.counters.duplicates == 50
        return placed, lag.unrecorded_entries, left

    placed, unrecorded, left = run(scenario())
    assert set(placed) == {Placement.STREAM}
    assert unrecorded == 0
    assert left < 450  # acknowledged entries are trimmed (whole nodes of ~100 entries)
    assert count_recorded(record_url) == (400, 400, 400)


def test_lag_counts_a_stream_no_recorder_has_read_as_unrecorded(
    redis_url: str, namespace: str
) -> None:
    """Before any recorder made its group (one elsewhere never started), every entry waits:
    /readyz and the lag gauges must not say the record is up to date."""
    stream = f"{namespace}records"

    async def scenario() -> tuple[int, int, float | None]:
        redis = Redis.from_url(redis_url)
        empty = await measure_lag(redis, stream=stream)
        for i in range(7):
            await redis.xadd(stream, {FIELD: record_body(f"{namespace}{i}")})
        lag = await measure_lag(redis, stream=stream)
        await redis.delete(stream)
        await redis.aclose()
        assert empty.unrecorded_entries == 0 and empty.oldest_unrecorded_age_seconds is None
        return lag.stream_entries, lag.unrecorded_entries, lag.oldest_unrecorded_age_seconds

    entries, unrecorded, age = run(scenario())
    assert (entries, unrecorded) == (7, 7)
    assert age is not None and age >= 0.0


def test_records_spool_while_redis_is_down_and_drain_when_it_is_back(
    record_url: str, namespace: str, tmp_path: Path
) -> None:
    server = RedisServer().start()
    stream = f"{namespace}records"

    async def scenario() -> tuple[list[Placement], int]:
        client = Redis.from_url(server.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        sink = RecordSink(client, Spool(tmp_path / "spool"), stream=stream)
        server.stop()
        placed = list(
            await asyncio.gather(*(sink.send(record_body(f"{namespace}{i}")) for i in range(200)))
        )
        assert sink.spool.size_bytes() > 0
        server.start()  # the same port, empty
        checks = asyncio.create_task(sink.run(interval_seconds=0.2))
        reader = Redis.from_url(server.url)  # no socket timeout shorter than its XREADGROUP BLOCK
        recorder = Recorder(reader, record_url, RecorderSettings(stream=stream))
        task = asyncio.create_task(recorder.run())
        await wait_recorded(recorder, task, 200)
        await stop(task)
        await stop(checks)
        await recorder.aclose()
        await sink.aclose()
        await client.aclose()
        await reader.aclose()
        return placed, sink.counters.drained

    try:
        placed, drained = run(scenario())
    finally:
        server.close()
    assert set(placed) == {Placement.SPOOL}
    assert drained >= 200  # a batch that failed halfway is sent again whole
    assert list((tmp_path / "spool").glob("*.spool")) == []  # drained segments are deleted
    assert count_recorded(record_url) == (200, 200, 200)


def test_a_full_spool_drops_and_counts(namespace: str, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[Placement], int]:
        client = Redis(port=1, socket_connect_timeout=0.2)  # nothing listens there
        room = len(record_body(f"{namespace}0")) * 5 // 2  # two records and their framing
        sink = RecordSink(client, Spool(tmp_path, max_bytes=room), stream=f"{namespace}r")
        dropped: list[int] = []
        sink.on_dropped = lambda: dropped.append(1)
        placed = [await sink.send(record_body(f"{namespace}{i}")) for i in range(5)]
        await sink.aclose()
        await client.aclose()
        return placed, len(dropped)

    placed, dropped = run(scenario())
    assert placed[:2] == [Placement.SPOOL, Placement.SPOOL]
    assert placed[2:] == [Placement.DROPPED] * 3
    assert dropped == 3


def test_a_malformed_record_is_refused_and_the_rest_recorded(
    redis_url: str, record_url: str, namespace: str
) -> None:
    stream = f"{namespace}records"

    async def scenario() -> list[bytes]:
        redis = Redis.from_url(redis_url)
        good = [record_body(f"{namespace}{i}") for i in range(20)]
        bad_decision = record_body(f"{namespace}bad", decision="maybe")  # PostgreSQL refuses
        for body in [*good[:10], b"{not json", bad_decision, *good[10:]]:
            await redis.xadd(stream, {"r": body})
        before = await redis.xlen(REFUSED_STREAM)
        recorder = Recorder(redis, record_url, RecorderSettings(stream=stream))
        task = asyncio.create_task(recorder.run())
        await wait_recorded(recorder, task, 20)
        await stop(task)
        refused = cast(Entries, await redis.xrange(REFUSED_STREAM, count=before + 10))
        await recorder.aclose()
        await redis.aclose()
        return [fields[b"r"] for _, fields in refused[before:]]

    refused = run(scenario())
    assert b"{not json" in refused
    assert any(
        orjson.loads(body)["decision"] == "maybe" for body in refused if body != b"{not json"
    )
    assert count_recorded(record_url) == (20, 20, 20)


def test_a_quiet_stream_is_recorded_in_batches_not_record_by_record(
    redis_url: str, record_url: str, namespace: str
) -> None:
    stream = f"{namespace}records"

    async def batches(linger_ms: int, prefix: str) -> int:
        redis = Redis.from_url(redis_url)
        settings = RecorderSettings(stream=stream, linger_ms=linger_ms, block_ms=50)
        recorder = Recorder(redis, record_url, settings)
        task = asyncio.create_task(recorder.run())
        for i in range(30):  # 300 records/s, one at a time, as a quiet worker sends them
            await redis.xadd(stream, {"r": record_body(f"{prefix}{i}")})
            await asyncio.sleep(0.01)
        await wait_recorded(recorder, task, 30)
        await stop(task)
        await recorder.aclose()
        await redis.aclose()
        return recorder.counters.batches

    # Over the 0.3 s of sending: one batch for the first record, one for all the others once
    # the second's linger ends. Without lingering, each read takes what arrived meanwhile.
    assert run(batches(1_000, f"{namespace}linger-")) <= 2
    assert run(batches(0, f"{namespace}eager-")) >= 3
