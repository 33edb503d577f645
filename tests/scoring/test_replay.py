"""A retried transaction id whose decision cannot be read back: still being scored (409) or
Redis failing the lookup (503), told apart. Against real Redis servers."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from feature_store.online import OnlineStore
from feature_store.redis_server import RedisServer, free_port
from feature_store.resp import RespClient
from policy.decision import NO_LISTS
from scoring.decisions import DecisionStore
from scoring.errors import DecisionPendingError, DecisionStoreError
from scoring.pipeline import Scorer
from scoring.results import ScoreInput

pytestmark = pytest.mark.redis

RETRY = ScoreInput("tx-retried", 1_700_000_000_000, 10.0, "USD", {}, "fingerprint")


def _replay(port: int) -> BaseException | None:
    async def run() -> BaseException | None:
        client = RespClient(host="127.0.0.1", port=port, connect_timeout_seconds=0.05)
        decisions = DecisionStore(client, ttl_seconds=60, timeout_ms=25)
        # The feature store is not reached: the retry's feature call has already been made.
        scorer = Scorer(cast(OnlineStore, None), decisions, NO_LISTS)
        try:
            await scorer._replay(RETRY, RETRY.fingerprint)
        except (DecisionPendingError, DecisionStoreError) as exc:
            return exc
        finally:
            await client.aclose()
        return None

    return asyncio.run(run())


def test_a_retry_with_no_stored_decision_is_pending() -> None:
    with RedisServer() as server:
        assert isinstance(_replay(server.port), DecisionPendingError)


def test_a_retry_whose_lookup_redis_fails_is_a_decision_store_error() -> None:
    failure = _replay(free_port())  # nothing listens there
    assert isinstance(failure, DecisionStoreError)
    assert not isinstance(failure, DecisionPendingError)
