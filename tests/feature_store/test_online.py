from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pandas as pd
import pytest

from feature_store.aggregates import (
    ENTITIES_BY_NAME,
    LABEL_MATURITY_DAYS,
    RETENTION_SECONDS,
    WINDOWS_BY_NAME,
    count_key,
    fraud_count_key,
    matured_count_key,
    matured_fraud_key,
    sum_key,
)
from feature_store.definitions import DECLARED_NAMES
from feature_store.offline import compute_features
from feature_store.online import OnlineStore, Transaction
from tests.feature_store.conftest import ClientFactory
from tests.feature_store.replay import replay
from tests.histories import tangled_history

CARD = ENTITIES_BY_NAME["card"]
DEVICE = ENTITIES_BY_NAME["device"]
MERCHANT = ENTITIES_BY_NAME["merchant"]
WINDOW_1H = WINDOWS_BY_NAME["1h"]

DELAY = 5 * 86_400
pytestmark = pytest.mark.redis


def assert_same_features(online: pd.DataFrame, offline: pd.DataFrame) -> None:
    for name in DECLARED_NAMES:
        got, want = online[name].to_numpy(dtype=float), offline[name].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name}: missing values differ"
        known = ~np.isnan(want)
        if "count" in name or "distinct" in name or "is_new" in name:
            assert np.array_equal(got[known], want[known]), name
        else:
            np.testing.assert_allclose(got[known], want[known], rtol=1e-9, err_msg=name)


def test_online_replay_equals_offline_features(make_client: ClientFactory, namespace: str) -> None:
    history = tangled_history(rows=300)

    async def run() -> pd.DataFrame:
        client = make_client()
        try:
            return await replay(OnlineStore(client, timeout_ms=2000), history, namespace, DELAY)
        finally:
            await client.aclose()

    online = asyncio.run(run())
    offline = compute_features(history, label_delay_seconds=DELAY, rule_features=True).reset_index(
        drop=True
    )
    assert_same_features(online, offline)


def _txn(namespace: str, transaction_id: str, ts_ms: int, card: str = "card_a") -> Transaction:
    attributes = {"card_id": namespace + card, "merchant_id": namespace + "m1"}
    return Transaction.build(transaction_id, ts_ms, 10.0, "USD", attributes)


T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_read_and_update_counts_concurrent_retries_once(
    make_client: ClientFactory, namespace: str
) -> None:
    async def run() -> tuple[list[dict[str, float]], dict[str, float]]:
        client = make_client()
        store = OnlineStore(client, timeout_ms=2000)
        try:
            retry = _txn(namespace, namespace + "tx1", T0)
            replies = await asyncio.gather(*[store.read_and_update(retry) for _ in range(8)])
            after = await store.read_and_update(_txn(namespace, namespace + "tx2", T0 + 1000))
            return list(replies), after
        finally:
            await client.aclose()

    replies, after = asyncio.run(run())
    key = count_key(CARD, WINDOW_1H)
    assert after[key] == 1.0
    assert after[sum_key(CARD, WINDOW_1H)] == 1000.0
    assert sorted(reply[key] for reply in replies)[0] == 0.0


def test_record_returns_the_first_fingerprint_to_retries(
    make_client: ClientFactory, namespace: str
) -> None:
    async def run() -> list[str | None]:
        client = make_client()
        store = OnlineStore(client, timeout_ms=2000)
        try:
            txn = _txn(namespace, namespace + "tx1", T0)
            first = await store.record(txn, "body-a")
            again = await store.record(txn, "body-b")
            other = await store.record(_txn(namespace, namespace + "tx2", T0), "body-c")
            return [first.first_fingerprint, again.first_fingerprint, other.first_fingerprint]
        finally:
            await client.aclose()

    assert asyncio.run(run()) == [None, "body-a", None]


def test_read_and_update_leaves_missing_entities_missing(
    make_client: ClientFactory, namespace: str
) -> None:
    async def run() -> dict[str, float]:
        client = make_client()
        try:
            return await OnlineStore(client).read_and_update(_txn(namespace, "x", T0))
        finally:
            await client.aclose()

    aggregates = asyncio.run(run())
    assert aggregates[count_key(CARD, WINDOW_1H)] == 0.0
    assert np.isnan(aggregates[count_key(DEVICE, WINDOW_1H)])


def test_apply_label_counts_each_transaction_once(
    make_client: ClientFactory, namespace: str
) -> None:
    async def run() -> tuple[list[bool], dict[str, float], dict[str, float]]:
        client = make_client()
        store = OnlineStore(client, timeout_ms=2000)
        try:
            fraud = _txn(namespace, namespace + "f1", T0)
            await store.read_and_update(fraud)
            applied = [await store.apply_label(fraud, T0 + 5_000) for _ in range(3)]
            later = await store.read_and_update(_txn(namespace, namespace + "n1", T0 + 60_000))
            # Matured windows end `LABEL_MATURITY_DAYS` whole days before the reading's day.
            matured_at = T0 + LABEL_MATURITY_DAYS * 86_400_000 + 3_600_000
            matured = await store.read_and_update(_txn(namespace, namespace + "n2", matured_at))
            return applied, later, matured
        finally:
            await client.aclose()

    applied, later, matured = asyncio.run(run())
    assert applied == [True, False, False]
    assert later[fraud_count_key(CARD, WINDOWS_BY_NAME["30d"])] == 1.0
    assert later[matured_fraud_key(MERCHANT, 30)] == 0.0  # its day has not matured yet
    assert matured[matured_fraud_key(MERCHANT, 30)] == 1.0
    assert matured[matured_count_key(MERCHANT, 30)] == 2.0
    assert matured[matured_fraud_key(CARD, 1)] == 1.0


def test_every_key_written_has_a_ttl(
    make_client: ClientFactory, namespace: str, sync_redis: Any
) -> None:
    history = tangled_history(rows=60)

    async def run() -> None:
        client = make_client()
        try:
            await replay(OnlineStore(client, timeout_ms=2000), history, namespace, DELAY)
        finally:
            await client.aclose()

    asyncio.run(run())
    written = list(sync_redis.scan_iter(match=f"*{namespace}*", count=1000))
    assert len(written) > 50
    ttls = [sync_redis.ttl(key) for key in written]
    assert all(0 < ttl <= RETENTION_SECONDS for ttl in ttls)


def test_the_transaction_id_alone_is_the_idempotency_key(
    make_client: ClientFactory, namespace: str
) -> None:
    async def run() -> tuple[str | None, dict[str, float]]:
        client = make_client()
        store = OnlineStore(client, timeout_ms=2000)
        try:
            await store.record(_txn(namespace, namespace + "tx1", T0, card="card_a"), "body-a")
            other = _txn(namespace, namespace + "tx1", T0, card="card_b")
            again = await store.record(other, "body-b")
            after = await store.read_and_update(
                _txn(namespace, namespace + "tx2", T0 + 1000, card="card_b")
            )
            return again.first_fingerprint, after
        finally:
            await client.aclose()

    first, after = asyncio.run(run())
    assert first == "body-a"
    # The retry with another card recorded nothing: not on the shared merchant, nor the card.
    assert after[count_key(MERCHANT, WINDOW_1H)] == 1.0
    assert after[count_key(CARD, WINDOW_1H)] == 0.0
