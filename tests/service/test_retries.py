"""Retries as a checkout receives them over HTTP (docs/api.md, Idempotency): two workers of the
real service on one Redis, and a retry sent while the first attempt is still under way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from feature_store import keys
from feature_store.redis_server import RedisServer
from scoring.pipeline import PENDING_WAIT_MS
from tests.service.conftest import RunningService, auth, settings_for, transaction, writes_paused
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def workers(redis_server: RedisServer) -> Iterator[tuple[RunningService, RunningService]]:
    first, second = (RunningService.start(settings_for(redis_server.url)) for _ in range(2))
    for number, worker in enumerate((first, second)):
        # Warm: Redis holds the feature script, so a feature call is one EVALSHA, never a
        # NOSCRIPT reply the worker must answer before anything is recorded.
        assert _post(worker, transaction("warm-up-", number)).status_code == 200
    yield first, second
    first.stop()
    second.stop()


def _post(service: RunningService, body: dict[str, Any]) -> httpx.Response:
    with service.client() as http:
        return http.post("/v1/score", json=body, headers=auth("score"))


def _waiting_feature_calls(client: redis.Redis) -> int:
    """Clients whose feature call (the script) Redis holds back while writes are paused."""
    return sum(
        1 for c in client.client_list() if "b" in c["flags"] and c["cmd"] in ("evalsha", "eval")
    )


def test_retry_while_the_first_attempt_is_being_scored_is_409_still_being_scored(
    redis_server: RedisServer,
    workers: tuple[RunningService, RunningService],
    namespace: str,
) -> None:
    """The first attempt's worker stalls after Redis recorded the transaction and before its
    decision is stored; the retry on the other worker waits `PENDING_WAIT_MS`, then 409."""
    first_worker, second_worker = workers
    body = transaction(namespace, 1)
    marker = keys.dedup_key(body["transaction_id"])
    release = threading.Event()
    control = redis.Redis.from_url(redis_server.url)
    with ThreadPoolExecutor(1) as pool:
        try:
            with writes_paused(redis_server.url):
                first: Future[httpx.Response] = pool.submit(_post, first_worker, body)
                # The first attempt's feature call waits in Redis; stall its worker before the
                # reply can be read, then let Redis record the transaction.
                wait_until(lambda: _waiting_feature_calls(control) >= 1, "the feature call waits")
                assert first_worker.server.stall(release).wait(30)
            wait_until(lambda: bool(control.exists(marker)), "the first attempt is recorded")
            retry = _post(second_worker, body)
        finally:
            release.set()
            control.close()
        answered = first.result(timeout=60)
    assert retry.status_code == 409, retry.text
    assert retry.headers["content-type"] == PROBLEM_JSON
    problem = retry.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Transaction is still being scored"
    assert "retry shortly" in problem["detail"]
    assert "retry-after" not in retry.headers  # only a 503 says when (docs/api.md, Errors)
    # The first attempt then answers as if nothing happened, and is what later retries get.
    assert answered.status_code == 200, answered.text
    assert answered.json()["replayed"] is False
    again = _post(second_worker, body)
    assert again.json() == {**answered.json(), "replayed": True}


def test_concurrent_retries_on_one_worker_are_replayed_and_count_once(
    redis_server: RedisServer,
    workers: tuple[RunningService, RunningService],
    namespace: str,
) -> None:
    """Two attempts on one worker, both waiting in Redis at once: the retry's lookup leaves
    after the first attempt's decision, so it is replayed, not 409."""
    worker, _ = workers
    body = transaction(namespace, 2)
    control = redis.Redis.from_url(redis_server.url)
    try:
        with ThreadPoolExecutor(2) as pool, writes_paused(redis_server.url):
            first = pool.submit(_post, worker, body)
            wait_until(lambda: _waiting_feature_calls(control) >= 1, "the first attempt waits")
            retry = pool.submit(_post, worker, body)
            # The worker has one connection to Redis: the retry's call queues behind the first.
            wait_until(lambda: _queued_bytes(control) > 0, "the retry waits behind it")
    finally:
        control.close()
    replies = sorted((first.result(timeout=60), retry.result(timeout=60)), key=_replayed)
    assert [reply.status_code for reply in replies] == [200, 200]
    original, replayed = (reply.json() for reply in replies)
    assert (original["replayed"], replayed["replayed"]) == (False, True)
    assert replayed == {**original, "replayed": True}


def _queued_bytes(client: redis.Redis) -> int:
    """Bytes of commands Redis has received and not yet run, over all its clients."""
    return sum(int(c.get("qbuf", 0)) for c in client.client_list())


def _replayed(reply: httpx.Response) -> bool:
    return bool(reply.json().get("replayed"))


def test_retry_whose_stored_decision_redis_cannot_return_is_503_with_retry_after(
    redis_server: RedisServer,
    workers: tuple[RunningService, RunningService],
    namespace: str,
) -> None:
    """The retry is recognised (its feature call answers) but every lookup of the stored
    decision fails in Redis: not 409 (nothing is being scored), 503 and `Retry-After: 1`."""
    first_worker, second_worker = workers
    body = transaction(namespace, 3)
    assert _post(first_worker, body).status_code == 200
    control = redis.Redis.from_url(redis_server.url)
    try:
        # Redis answers every GET of the decision with an error (WRONGTYPE) from now on.
        key = keys.decision_key(body["transaction_id"])
        wait_until(lambda: bool(control.exists(key)), "the decision is stored")
        control.delete(key)
        control.hset(key, "unreadable", "1")
        retry = _post(second_worker, body)
    finally:
        control.close()
    assert retry.status_code == 503, retry.text
    assert retry.headers["content-type"] == PROBLEM_JSON
    assert retry.headers["retry-after"] == "1"
    problem = retry.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Decision store unavailable"
    assert "WRONGTYPE" in problem["detail"]
    assert retry.elapsed.total_seconds() >= PENDING_WAIT_MS / 1000  # it retried its lookups
