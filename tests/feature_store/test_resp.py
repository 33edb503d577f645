"""The lean single-server client: its protocol, database selection and failure handling,
against real Redis servers. Parity and idempotency run with it in test_online.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from redis import exceptions as redis_errors

from feature_store.aggregates import ENTITIES_BY_NAME, WINDOWS_BY_NAME, count_key
from feature_store.online import (
    FeatureStoreError,
    FeatureStoreTimeoutError,
    FeatureStoreUnavailableError,
    OnlineStore,
)
from feature_store.redis_server import RedisServer
from feature_store.resp import RespClient, pack
from tests.feature_store.conftest import HANG_SECONDS, failure_txn
from tests.feature_store.test_online import T0

CARD = ENTITIES_BY_NAME["card"]
WINDOW_1H = WINDOWS_BY_NAME["1h"]

pytestmark = pytest.mark.redis


def test_pack_writes_resp_bulk_strings() -> None:
    assert (
        pack(("SET", "k", 12, b"\x00v"))
        == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$2\r\n\x00v\r\n"
    )


def test_resp_selects_the_database_of_the_url(own_server: RedisServer) -> None:
    async def run() -> None:
        client = RespClient.from_url(f"redis://127.0.0.1:{own_server.port}/3")
        try:
            assert await client.set("picked", "yes")
            with pytest.raises(redis_errors.ResponseError, match="wrong number"):
                await client.execute_command("GET")
        finally:
            await client.aclose()

    asyncio.run(run())
    assert redis.Redis(port=own_server.port, db=3).get("picked") == b"yes"
    assert redis.Redis(port=own_server.port, db=0).get("picked") is None


def test_resp_fails_fast_when_redis_stops_and_recovers_after_restart(
    own_server: RedisServer,
) -> None:
    async def run() -> tuple[float, float]:
        client = RespClient(host="127.0.0.1", port=own_server.port, connect_timeout_seconds=0.2)
        store = OnlineStore(client, timeout_ms=200)
        try:
            await store.read_and_update(failure_txn("a", T0))
            own_server.stop()
            started = time.monotonic()
            with pytest.raises(FeatureStoreUnavailableError):
                await store.read_and_update(failure_txn("b", T0 + 1))
            elapsed = time.monotonic() - started
            own_server.start()  # empty, and without the script
            after = await store.read_and_update(failure_txn("c", T0 + 2))
            return elapsed, after[count_key(CARD, WINDOW_1H)]
        finally:
            await client.aclose()

    elapsed, count = asyncio.run(run())
    assert elapsed < HANG_SECONDS
    assert count == 0.0


def test_resp_times_out_then_matches_later_replies_to_their_calls(
    own_server: RedisServer,
) -> None:
    async def run() -> tuple[float, float]:
        client = RespClient(host="127.0.0.1", port=own_server.port)
        store = OnlineStore(client, timeout_ms=50)
        try:
            await store.read_and_update(failure_txn("a", T0))
            redis.Redis(port=own_server.port).client_pause(400)
            started = time.monotonic()
            with pytest.raises(FeatureStoreTimeoutError):
                await store.read_and_update(failure_txn("b", T0 + 1))
            elapsed = time.monotonic() - started
            await asyncio.sleep(0.6)  # the late reply to "b" arrives and is dropped
            after = await OnlineStore(client, timeout_ms=2000).read_and_update(
                failure_txn("c", T0 + 2)
            )
            return elapsed, after[count_key(CARD, WINDOW_1H)]
        finally:
            await client.aclose()

    elapsed, count = asyncio.run(run())
    assert elapsed < HANG_SECONDS
    assert count == 2.0  # "a" and the late-applied "b": the reply order stayed aligned


def test_resp_refuses_rather_than_queues_past_its_bound(own_server: RedisServer) -> None:
    async def run() -> list[BaseException | dict[str, float]]:
        client = RespClient(host="127.0.0.1", port=own_server.port, max_in_flight=2)
        store = OnlineStore(client, timeout_ms=1000)
        try:
            await store.read_and_update(failure_txn("warm", T0))
            redis.Redis(port=own_server.port).client_pause(300)
            calls = [store.read_and_update(failure_txn(f"t{i}", T0 + i)) for i in range(6)]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await client.aclose()

    results = asyncio.run(run())
    refused = [r for r in results if isinstance(r, FeatureStoreUnavailableError)]
    assert len(refused) == 4
    assert all(isinstance(r, FeatureStoreError | dict) for r in results)


def test_resp_sends_a_turns_commands_in_one_write_and_matches_each_reply(
    own_server: RedisServer,
) -> None:
    """Commands issued in one turn of the event loop (awaited or sent for later) leave
    together, in order, and each caller gets its own reply."""

    async def run() -> tuple[list[Any], list[Any], int]:
        client = RespClient(host="127.0.0.1", port=own_server.port)
        try:
            await client.execute_command("PING")  # connected
            connection = client._connection
            assert connection is not None and connection.transport is not None
            transport = connection.transport
            writes: list[bytes] = []
            write = transport.write

            def recording(data: bytes | bytearray | memoryview) -> None:
                writes.append(bytes(data))
                write(data)

            transport.write = recording  # type: ignore[method-assign]
            awaited = [client.execute_command("INCR", "n") for _ in range(50)]
            sent = [client.send_later("INCRBY", "m", i) for i in range(1, 51)]
            replies = await asyncio.gather(*awaited)
            unawaited = await asyncio.gather(*(future for future in sent if future is not None))
            return replies, unawaited, len(writes)
        finally:
            await client.aclose()

    replies, unawaited, writes = asyncio.run(run())
    assert replies == list(range(1, 51))
    assert unawaited == [i * (i + 1) // 2 for i in range(1, 51)]
    assert writes < 10  # one per turn, not one per command


def test_resp_sends_a_command_for_later_on_its_own_when_nothing_follows(
    own_server: RedisServer,
) -> None:
    async def run() -> Any:
        client = RespClient(host="127.0.0.1", port=own_server.port)
        try:
            await client.execute_command("PING")
            sent = client.send_later("SET", "alone", "yes")
            assert sent is not None
            return await asyncio.wait_for(sent, 1.0)
        finally:
            await client.aclose()

    assert asyncio.run(run()) == b"OK"
    assert redis.Redis(port=own_server.port).get("alone") == b"yes"


def test_resp_writes_what_is_queued_before_it_closes(own_server: RedisServer) -> None:
    async def run() -> None:
        client = RespClient(host="127.0.0.1", port=own_server.port)
        await client.execute_command("PING")
        client.send_later("SET", "last", "kept")
        await client.aclose()

    asyncio.run(run())
    deadline = time.monotonic() + 2.0
    while redis.Redis(port=own_server.port).get("last") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert redis.Redis(port=own_server.port).get("last") == b"kept"
