"""The same store against a local three-master Redis Cluster: parity and idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pandas as pd
import pytest
from redis.asyncio.cluster import RedisCluster

from feature_store.aggregates import CARD, count_key
from feature_store.offline import compute_features
from feature_store.online import OnlineStore, Transaction
from feature_store.redis_server import RedisServer, start_cluster
from feature_store.windows import WINDOW_24H
from tests.feature_store.replay import replay
from tests.feature_store.test_online import DELAY, T0, assert_same_features
from tests.histories import tangled_history

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[RedisServer]]:
    servers = start_cluster(masters=3)
    yield servers
    for server in servers:
        server.close()


def _client(cluster: list[RedisServer]) -> RedisCluster:
    return RedisCluster(host="127.0.0.1", port=cluster[0].port)


def test_cluster_replay_equals_offline_features(cluster: list[RedisServer]) -> None:
    history = tangled_history(rows=200, seed=11)

    async def run() -> pd.DataFrame:
        client = _client(cluster)
        try:
            return await replay(OnlineStore(client, timeout_ms=2000), history, "c1-", DELAY)
        finally:
            await client.aclose()

    online = asyncio.run(run())
    offline = compute_features(history, label_delay_seconds=DELAY).reset_index(drop=True)
    assert_same_features(online, offline)


def test_cluster_spreads_entities_over_every_node(cluster: list[RedisServer]) -> None:
    import redis

    keys_per_node = [redis.Redis(port=s.port).dbsize() for s in cluster]
    assert all(count > 0 for count in keys_per_node), keys_per_node


def test_cluster_counts_concurrent_retries_once(cluster: list[RedisServer]) -> None:
    attributes = {"card_id": "c2-card", "merchant_id": "c2-m", "device_id": "c2-d", "ip": "c2-ip"}

    async def run() -> float:
        client = _client(cluster)
        store = OnlineStore(client, timeout_ms=2000)
        try:
            retry = Transaction.build("c2-t1", T0, 3.0, "USD", attributes)
            await asyncio.gather(*[store.read_and_update(retry) for _ in range(6)])
            after = await store.read_and_update(
                Transaction.build("c2-t2", T0 + 1, 1.0, "USD", attributes)
            )
            return after[count_key(CARD, WINDOW_24H)]
        finally:
            await client.aclose()

    assert asyncio.run(run()) == 1.0
