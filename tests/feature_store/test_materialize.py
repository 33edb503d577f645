from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pandas as pd
import pytest
from redis.asyncio import Redis

from feature_store.definitions import DECLARED_NAMES
from feature_store.materialize import materialize
from feature_store.offline import compute_features, times_ms
from feature_store.online import OnlineStore
from tests.feature_store.replay import ID_COLUMNS, replay_rows
from tests.feature_store.test_online import DELAY, assert_same_features
from tests.histories import tangled_history

pytestmark = pytest.mark.redis


def _namespaced(history: pd.DataFrame, namespace: str) -> pd.DataFrame:
    out = history.copy()
    for column in ID_COLUMNS:
        values = [None if v is None else namespace + v for v in out[column]]
        out[column] = pd.Series(values, index=out.index, dtype=object)
    return out


def test_materialize_then_live_traffic_equals_offline(redis_url: str, namespace: str) -> None:
    history = _namespaced(tangled_history(rows=500, seed=5, days=6), namespace)
    ts_ms = times_ms(history["timestamp"])
    cut_ms = int(np.sort(ts_ms)[350])
    before = history[ts_ms <= cut_ms]

    async def run() -> dict[int, list[float]]:
        client = Redis.from_url(redis_url)
        try:
            await materialize(client, before, label_delay_seconds=DELAY)
            store = OnlineStore(client, timeout_ms=2000)
            return await replay_rows(store, history, "", DELAY, after_ms=cut_ms)
        finally:
            await client.aclose()

    rows = asyncio.run(run())
    assert len(rows) >= 100
    indices = sorted(rows)
    online = pd.DataFrame([rows[i] for i in indices], columns=list(DECLARED_NAMES))
    offline = compute_features(history, label_delay_seconds=DELAY, rule_features=True).iloc[indices]
    assert_same_features(online, offline.reset_index(drop=True))


def test_materialize_twice_leaves_the_same_state(
    redis_url: str, namespace: str, sync_redis: Any
) -> None:
    history = _namespaced(tangled_history(rows=150, seed=8), namespace)

    def snapshot() -> dict[bytes, object]:
        state: dict[bytes, object] = {}
        for key in sync_redis.scan_iter(match=f"*{namespace}*", count=1000):
            kind = sync_redis.type(key)
            if kind == b"hash":
                state[key] = sync_redis.hgetall(key)
            elif kind == b"zset":
                state[key] = sync_redis.zrange(key, 0, -1, withscores=True)
            else:
                state[key] = sync_redis.get(key)
        return state

    async def run() -> None:
        client = Redis.from_url(redis_url)
        try:
            await materialize(client, history, label_delay_seconds=DELAY)
        finally:
            await client.aclose()

    asyncio.run(run())
    first = snapshot()
    asyncio.run(run())
    assert first
    assert snapshot() == first
