"""The same store against a local three-master Redis Cluster: parity and idempotency; each
test writes the keys it reads, so that any order of tests holds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pandas as pd
import pytest
from redis.asyncio.cluster import RedisCluster

from feature_store.aggregates import ENTITIES_BY_NAME, WINDOWS_BY_NAME, count_key
from feature_store.cluster import GatedCluster
from feature_store.offline import compute_features
from feature_store.online import OnlineStore, Transaction
from feature_store.redis_server import RedisServer, start_cluster
from tests.feature_store.replay import replay
from tests.feature_store.test_online import DELAY, T0, assert_same_features
from tests.histories import tangled_history

CARD = ENTITIES_BY_NAME["card"]
CUSTOMER = ENTITIES_BY_NAME["customer"]
MERCHANT = ENTITIES_BY_NAME["merchant"]
WINDOW_24H = WINDOWS_BY_NAME["24h"]

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[RedisServer]]:
    servers = start_cluster(masters=3)
    yield servers
    for server in servers:
        server.close()


async def _client(cluster: list[RedisServer]) -> RedisCluster:
    """The client the service uses on a cluster (`feature_store/cluster.py`), connected as
    the service connects it at start."""
    client = GatedCluster(host="127.0.0.1", port=cluster[0].port)
    await client.initialize()
    return client


def test_cluster_replay_equals_offline_features(cluster: list[RedisServer]) -> None:
    history = tangled_history(rows=200, seed=11)

    async def run() -> pd.DataFrame:
        client = await _client(cluster)
        try:
            return await replay(OnlineStore(client, timeout_ms=2000), history, "c1-", DELAY)
        finally:
            await client.aclose()

    online = asyncio.run(run())
    offline = compute_features(history, label_delay_seconds=DELAY, rule_features=True).reset_index(
        drop=True
    )
    assert_same_features(online, offline)


def test_cluster_spreads_entities_over_every_node(cluster: list[RedisServer]) -> None:
    import redis

    history = tangled_history(rows=80, seed=12)

    async def run() -> None:
        client = await _client(cluster)
        try:
            await replay(OnlineStore(client, timeout_ms=2000), history, "c3-", DELAY)
        finally:
            await client.aclose()

    # Its own keys: the test holds whatever order the tests run in.
    asyncio.run(run())
    keys_per_node = [
        sum(1 for _ in redis.Redis(port=s.port).scan_iter(match="*c3-*", count=1000))
        for s in cluster
    ]
    assert all(count > 0 for count in keys_per_node), keys_per_node


def test_cluster_counts_concurrent_retries_once(cluster: list[RedisServer]) -> None:
    attributes = {"card_id": "c2-card", "merchant_id": "c2-m", "device_id": "c2-d", "ip": "c2-ip"}

    async def run() -> float:
        client = await _client(cluster)
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


def test_cluster_keys_idempotency_by_transaction_id_alone(cluster: list[RedisServer]) -> None:
    def txn(card: str, number: int = 1) -> Transaction:
        attributes = {"card_id": card, "merchant_id": "c4-m", "customer_id": "c4-cu"}
        return Transaction.build(f"c4-t{number}", T0, 3.0, "USD", attributes)

    async def run() -> tuple[list[str | None], dict[str, float]]:
        client = await _client(cluster)
        store = OnlineStore(client, timeout_ms=2000)
        try:
            # Many cards, so that their slots differ from the marker's and from one another.
            cards = [f"c4-card{i}" for i in range(8)]
            readings = await asyncio.gather(*[store.record(txn(card), card) for card in cards])
            after = await store.read_and_update(txn("c4-other", number=2))
            return [r.first_fingerprint for r in readings], after
        finally:
            await client.aclose()

    firsts, after = asyncio.run(run())
    assert firsts.count(None) == 1
    winner = firsts.index(None)
    assert {f for f in firsts if f is not None} == {f"c4-card{winner}"}
    assert after[count_key(MERCHANT, WINDOW_24H)] == 1.0
    assert after[count_key(CUSTOMER, WINDOW_24H)] == 1.0


def test_cluster_burst_beyond_the_connections_waits_instead_of_failing(
    cluster: list[RedisServer],
) -> None:
    """Many more concurrent records than connections per node: each waits for the gate, none
    fails (redis-py alone fails the surplus at once, and its pipeline then closes the
    connections the others are using)."""
    attributes = {"card_id": "c5-card", "merchant_id": "c5-m", "device_id": "c5-d"}

    async def run() -> tuple[list[str | None], dict[str, float]]:
        client = GatedCluster(host="127.0.0.1", port=cluster[0].port, max_connections=4)
        store = OnlineStore(client, timeout_ms=10_000)
        try:
            burst = [
                Transaction.build(f"c5-t{i}", T0 + i, 1.0, "USD", attributes) for i in range(60)
            ]
            retries = [Transaction.build("c5-t0", T0, 1.0, "USD", attributes)] * 20
            readings = await asyncio.gather(
                *[store.record(t, t.transaction_id) for t in [*burst, *retries]]
            )
            after = await store.read_and_update(
                Transaction.build("c5-last", T0 + 100, 1.0, "USD", attributes)
            )
            return [r.first_fingerprint for r in readings], after
        finally:
            await client.aclose()

    firsts, after = asyncio.run(run())
    assert firsts.count(None) == 60  # each id of the burst recorded once
    assert firsts.count("c5-t0") == 20  # the retries, whichever of them came first
    assert after[count_key(CARD, WINDOW_24H)] == 60.0


def test_cluster_duplicate_reads_nothing(cluster: list[RedisServer]) -> None:
    """A call for a transaction id claimed before answers from the marker alone: no entity
    call, so no aggregate, and nothing recorded on its (other) entities."""

    async def run() -> tuple[dict[str, float], str | None, dict[str, float]]:
        client = GatedCluster(host="127.0.0.1", port=cluster[0].port)
        store = OnlineStore(client, timeout_ms=2000)
        try:
            first = {"card_id": "c6-card", "merchant_id": "c6-m"}
            await store.record(Transaction.build("c6-t1", T0, 1.0, "USD", first), "first")
            other = {"card_id": "c6-card2", "merchant_id": "c6-m"}
            again = await store.record(Transaction.build("c6-t1", T0, 1.0, "USD", other), "b")
            after = await store.read_and_update(
                Transaction.build("c6-t2", T0 + 1, 1.0, "USD", other)
            )
            return again.aggregates, again.first_fingerprint, after
        finally:
            await client.aclose()

    aggregates, first, after = asyncio.run(run())
    assert first == "first"
    assert all(value != value for value in aggregates.values())  # all NaN: nothing read
    assert after[count_key(CARD, WINDOW_24H)] == 0.0  # card2 never saw c6-t1
    assert after[count_key(MERCHANT, WINDOW_24H)] == 1.0
