"""Event time: late, out-of-order, far-future and far-past events count the same offline and
online (and as the naive reference states), and never move another event's windows."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from feature_store.aggregates import (
    ENTITIES_BY_NAME,
    WINDOWS,
    WINDOWS_BY_NAME,
    count_key,
    previous_key,
)
from feature_store.definitions import DECLARED_FEATURES, DECLARED_NAMES
from feature_store.offline import compute_features
from feature_store.online import OnlineStore, Transaction
from history.io import normalise
from tests.feature_store.conftest import ClientFactory
from tests.feature_store.reference import reference_inputs
from tests.feature_store.replay import replay
from tests.feature_store.test_online import DELAY, T0, assert_same_features
from tests.histories import tangled_history

CARD = ENTITIES_BY_NAME["card"]
MERCHANT = ENTITIES_BY_NAME["merchant"]
WINDOW_1H = WINDOWS_BY_NAME["1h"]
WINDOW_24H = WINDOWS_BY_NAME["24h"]
WINDOW_30D = WINDOWS_BY_NAME["30d"]

HOUR_MS = 3_600_000
YEAR_9999_MS = 253_402_300_799_000


def _unlabelled(history: pd.DataFrame) -> pd.DataFrame:
    out = history.copy()
    out["is_fraud"] = 0
    out["label_timestamp"] = pd.NaT
    return out


def shuffled_history() -> pd.DataFrame:
    """tangled_history's rows arrive in a random order: most events are late."""
    return _unlabelled(tangled_history(rows=240, seed=21))


def skewed_history() -> pd.DataFrame:
    """Time order, except a few late rows and far-future and far-past ones on shared ids."""
    base = tangled_history(rows=260, seed=4, days=40).sort_values("timestamp", kind="stable")
    rows = base.reset_index(drop=True)
    late = rows.iloc[[30, 90, 150]].copy()
    late["timestamp"] = late["timestamp"] - pd.to_timedelta([2, 26, 24 * 31], unit="h")
    future = rows.iloc[[40, 41, 120]].copy()
    future["timestamp"] = future["timestamp"] + pd.to_timedelta([2, 25, 24 * 31], unit="h")
    far = rows.iloc[[60, 61]].copy()
    far["timestamp"] = [pd.Timestamp("2200-01-01", tz="UTC"), pd.Timestamp("1971-01-01", tz="UTC")]
    extra = pd.concat([late, future, far])
    extra["transaction_id"] = [f"x{i}" for i in range(len(extra))]
    parts = [rows.iloc[:45], extra.iloc[3:], rows.iloc[45:170], extra.iloc[:3], rows.iloc[170:]]
    out = pd.concat(parts).reset_index(drop=True)
    return normalise(_unlabelled(out), source="skewed")


HISTORIES = {"shuffled": shuffled_history, "skewed": skewed_history}


@pytest.mark.parametrize("name", list(HISTORIES))
def test_offline_in_arrival_order_matches_the_naive_reference(name: str) -> None:
    history = HISTORIES[name]()
    inputs = reference_inputs(history, DELAY, arrival_order=True)
    want = pd.DataFrame(
        [[f.one(row) for f in DECLARED_FEATURES] for row in inputs], columns=list(DECLARED_NAMES)
    )
    got = compute_features(
        history, label_delay_seconds=DELAY, arrival_order=True, rule_features=True
    )
    assert_same_features(got.reset_index(drop=True), want)
    # The history is out of order enough that arrival order changes features.
    in_time_order = compute_features(history, label_delay_seconds=DELAY)
    assert not in_time_order.equals(got)


@pytest.mark.redis
@pytest.mark.parametrize("name", list(HISTORIES))
def test_online_in_arrival_order_equals_offline(
    name: str, make_client: ClientFactory, namespace: str
) -> None:
    history = HISTORIES[name]()

    async def run() -> pd.DataFrame:
        client = make_client()
        try:
            store = OnlineStore(client, timeout_ms=2000)
            return await replay(store, history, namespace, DELAY, arrival_order=True)
        finally:
            await client.aclose()

    online = asyncio.run(run())
    offline = compute_features(
        history, label_delay_seconds=DELAY, arrival_order=True, rule_features=True
    )
    assert_same_features(online, offline.reset_index(drop=True))


def _txn(namespace: str, number: int, ts_ms: int) -> Transaction:
    attributes = {"card_id": f"{namespace}card", "merchant_id": f"{namespace}merchant"}
    return Transaction.build(f"{namespace}t{number}", ts_ms, 10.0, "USD", attributes)


@pytest.mark.redis
@pytest.mark.parametrize("ahead_ms", [2 * HOUR_MS, 25 * HOUR_MS, 31 * 24 * HOUR_MS, None])
def test_an_event_dated_ahead_leaves_the_present_windows_alone(
    ahead_ms: int | None, make_client: ClientFactory, namespace: str
) -> None:
    async def run() -> dict[str, float]:
        client = make_client()
        store = OnlineStore(client, timeout_ms=2000)
        try:
            for number in range(4):
                await store.read_and_update(_txn(namespace, number, T0 + number * 60_000))
            await store.read_and_update(_txn(namespace, 9, future))
            return await store.read_and_update(_txn(namespace, 10, now))
        finally:
            await client.aclose()

    future = YEAR_9999_MS if ahead_ms is None else T0 + ahead_ms
    now = T0 + 300_000
    after = asyncio.run(run())
    for window in WINDOWS:
        # Buckets are the unit of time: one dated ahead inside this bucket counts in it.
        expected = 4.0 + (window.bucket(future) == window.bucket(now))
        assert after[count_key(MERCHANT, window)] == expected, window.name
        assert after[count_key(CARD, window)] == expected, window.name
    # The card's previous transaction is the one at T0 + 3 min, not the one dated ahead.
    assert after[previous_key(CARD)] == T0 + 180_000


@pytest.mark.redis
def test_a_late_event_counts_in_the_windows_of_its_own_time(
    make_client: ClientFactory, namespace: str
) -> None:
    async def run() -> tuple[dict[str, float], dict[str, float]]:
        client = make_client()
        store = OnlineStore(client, timeout_ms=2000)
        try:
            await store.read_and_update(_txn(namespace, 1, T0 + 3 * HOUR_MS))
            late = await store.read_and_update(_txn(namespace, 2, T0))
            after = await store.read_and_update(_txn(namespace, 3, T0 + 3 * HOUR_MS + 60_000))
            return late, after
        finally:
            await client.aclose()

    late, after = asyncio.run(run())
    # The late event sees nothing at or before its own time ...
    assert late[count_key(CARD, WINDOW_24H)] == 0.0
    assert np.isnan(late[previous_key(CARD)])
    # ... and counts where its time is inside the window, not in the latest bucket.
    assert after[count_key(CARD, WINDOW_1H)] == 1.0
    assert after[count_key(CARD, WINDOW_24H)] == 2.0
    assert after[count_key(CARD, WINDOW_30D)] == 2.0
    assert after[previous_key(CARD)] == T0 + 3 * HOUR_MS
