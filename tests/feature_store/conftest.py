"""Fixtures of the feature-store tests: the store's two clients, and servers that tests stop,
restart and pause."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from redis.asyncio import Redis

from feature_store.online import Client, Transaction
from feature_store.redis_server import RedisServer
from feature_store.resp import RespClient

# Far above every time budget in these tests: only a hang would reach it.
HANG_SECONDS = 5.0

ClientFactory = Callable[[], Client]


@pytest.fixture(params=["redis-py", "resp"])
def make_client(request: pytest.FixtureRequest, redis_url: str) -> ClientFactory:
    """Builds the store's client: a test taking it runs with redis-py and with RespClient."""
    if request.param == "resp":
        return lambda: RespClient.from_url(redis_url)
    return lambda: Redis.from_url(redis_url)


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server of the test's own, free to stop, restart and pause."""
    with RedisServer() as server:
        yield server


def failure_txn(transaction_id: str, ts_ms: int) -> Transaction:
    """A minimal transaction for failure tests: one card, one merchant."""
    attributes = {"card_id": "card_f", "merchant_id": "m_f"}
    return Transaction.build(transaction_id, ts_ms, 5.0, "USD", attributes)
