"""The store against a real Redis that stops, restarts, stalls, or is overloaded."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from feature_store.aggregates import ENTITIES_BY_NAME, WINDOWS_BY_NAME, count_key
from feature_store.online import (
    FeatureStoreError,
    FeatureStoreTimeoutError,
    FeatureStoreUnavailableError,
    OnlineStore,
)
from feature_store.redis_server import RedisServer
from tests.feature_store.conftest import HANG_SECONDS, failure_txn

CARD = ENTITIES_BY_NAME["card"]
WINDOW_1H = WINDOWS_BY_NAME["1h"]

pytestmark = pytest.mark.redis
T0 = 1_767_225_600_000


def _client(server: RedisServer, **options: Any) -> Redis:
    settings: dict[str, Any] = {"socket_connect_timeout": 0.2, "socket_timeout": 0.5}
    return Redis.from_url(server.url, **(settings | options))


def test_store_fails_fast_when_redis_stops_and_recovers_after_restart(
    own_server: RedisServer,
) -> None:
    async def run() -> tuple[type[Exception], float, float]:
        client = _client(own_server)
        store = OnlineStore(client, timeout_ms=200)
        try:
            await store.read_and_update(failure_txn("a", T0))
            own_server.stop()
            started = time.monotonic()
            with pytest.raises(FeatureStoreError) as failure:
                await store.read_and_update(failure_txn("b", T0 + 1))
            elapsed = time.monotonic() - started
            own_server.start()  # same port, empty: the script cache is gone too
            after = await store.read_and_update(failure_txn("c", T0 + 2))
            return failure.type, elapsed, after[count_key(CARD, WINDOW_1H)]
        finally:
            await client.aclose()

    error, elapsed, count = asyncio.run(run())
    assert issubclass(error, FeatureStoreUnavailableError | FeatureStoreTimeoutError)
    assert elapsed < HANG_SECONDS
    assert count == 0.0  # the restarted server kept nothing, and the call worked


def test_store_times_out_within_its_budget_when_redis_stalls(own_server: RedisServer) -> None:
    async def run() -> float:
        client = _client(own_server, socket_timeout=HANG_SECONDS)
        store = OnlineStore(client, timeout_ms=50)
        try:
            await store.read_and_update(failure_txn("a", T0))
            redis.Redis(port=own_server.port).client_pause(1500)
            started = time.monotonic()
            with pytest.raises(FeatureStoreTimeoutError):
                await store.read_and_update(failure_txn("b", T0 + 1))
            return time.monotonic() - started
        finally:
            await client.aclose()

    assert asyncio.run(run()) < HANG_SECONDS


def test_store_refuses_rather_than_queues_past_its_connections(own_server: RedisServer) -> None:
    async def run() -> list[BaseException | dict[str, float]]:
        client = _client(own_server, max_connections=2, socket_timeout=HANG_SECONDS)
        store = OnlineStore(client, timeout_ms=500)
        try:
            await store.read_and_update(failure_txn("warm", T0))
            redis.Redis(port=own_server.port).client_pause(300)
            calls = [store.read_and_update(failure_txn(f"t{i}", T0 + i)) for i in range(6)]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await client.aclose()

    results = asyncio.run(run())
    refused = [r for r in results if isinstance(r, FeatureStoreUnavailableError)]
    assert len(refused) >= 4
    assert all(isinstance(r, FeatureStoreError | dict) for r in results)
