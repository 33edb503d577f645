"""Fixtures of the feature-store tests that stop, restart and pause Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from feature_store.online import Transaction
from feature_store.redis_server import RedisServer

# Far above every time budget in these tests: only a hang would reach it.
HANG_SECONDS = 5.0


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server of the test's own, free to stop, restart and pause."""
    with RedisServer() as server:
        yield server


def failure_txn(transaction_id: str, ts_ms: int) -> Transaction:
    """A minimal transaction for failure tests: one card, one merchant."""
    attributes = {"card_id": "card_f", "merchant_id": "m_f"}
    return Transaction.build(transaction_id, ts_ms, 5.0, "USD", attributes)
