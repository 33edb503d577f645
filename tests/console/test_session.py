"""Console sessions in a real Redis: idle and absolute expiry, log-out, nothing usable kept."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import redis
from redis.asyncio import Redis

from feature_store.keys import console_session_key
from service.console.session import SessionStore

pytestmark = pytest.mark.redis


T = TypeVar("T")


@pytest.fixture
def store_url(console_redis: str) -> Iterator[str]:
    yield console_redis


def _run(url: str, idle: int, maximum: int, steps: Callable[[SessionStore], Awaitable[T]]) -> T:
    """`steps` against a store on a client of its own, in an event loop of its own."""

    async def run() -> T:
        client = Redis.from_url(url)
        try:
            return await steps(SessionStore(client, idle_seconds=idle, max_seconds=maximum))
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_a_session_keeps_its_key_scopes_and_token(store_url: str) -> None:
    async def steps(store: SessionStore) -> None:
        session_id, created = await store.create("alice", ("analyst",))
        loaded = await store.load(session_id)
        assert loaded == created and loaded is not None
        assert loaded.csrf_matches(created.csrf_token) and not loaded.csrf_matches("nope")
        assert not loaded.is_admin
        assert await store.load(session_id + "x") is None

    _run(store_url, 60, 600, steps)


def test_redis_holds_the_hash_of_the_id_never_the_id(store_url: str) -> None:
    async def steps(store: SessionStore) -> str:
        session_id, _ = await store.create("bob", ("admin",))
        return session_id

    session_id = _run(store_url, 60, 600, steps)
    client = redis.Redis.from_url(store_url)
    try:
        hashed = hashlib.sha256(session_id.encode()).hexdigest()
        assert client.exists(console_session_key(hashed)) == 1
        assert client.exists(console_session_key(session_id)) == 0
        assert 0 < int(client.ttl(console_session_key(hashed))) <= 60
    finally:
        client.close()


def test_an_idle_session_expires_and_use_renews_it(store_url: str) -> None:
    async def steps(store: SessionStore) -> None:
        session_id, _ = await store.create("carol", ("analyst",))
        for _ in range(3):  # used every 0.6 s: never idle for 1 s
            await asyncio.sleep(0.6)
            assert await store.load(session_id) is not None
        await asyncio.sleep(1.3)
        assert await store.load(session_id) is None

    _run(store_url, 1, 600, steps)


def test_a_session_ends_at_its_maximum_age_however_used(store_url: str) -> None:
    async def steps(store: SessionStore) -> None:
        session_id, _ = await store.create("dave", ("analyst",))
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            assert await store.load(session_id) is not None
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.2)
        assert await store.load(session_id) is None

    _run(store_url, 60, 2, steps)


def test_deleting_a_session_ends_it(store_url: str) -> None:
    async def steps(store: SessionStore) -> None:
        session_id, _ = await store.create("erin", ("analyst",))
        await store.delete(session_id)
        assert await store.load(session_id) is None

    _run(store_url, 60, 600, steps)
