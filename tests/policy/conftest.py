"""Fixtures of the policy tests that use Redis: keys of the test's own, and a runner for jobs
that need an asyncio client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

Run = Callable[[Callable[[Redis], Awaitable[Any]]], Any]


@pytest.fixture
def prefix(namespace: str, sync_redis: redis.Redis) -> Iterator[str]:
    """A key prefix of the test's own, deleted afterwards (the server is shared)."""
    prefix = f"rs:test:{namespace}"
    yield prefix
    stale = list(sync_redis.scan_iter(match=f"{prefix}:*", count=1000))
    if stale:
        sync_redis.delete(*stale)


@pytest.fixture
def run(redis_url: str) -> Run:
    """Runs `job(client)` in a fresh event loop with a client of its own."""

    def runner(job: Callable[[Redis], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            client = Redis.from_url(redis_url)
            try:
                return await job(client)
            finally:
                await client.aclose()

        return asyncio.run(main())

    return runner
