"""Shared fixtures: a real Redis for the whole session (private unless REDIS_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from feature_store.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when set (never flushed: tests keep to their own namespaced keys), else a
    private redis-server on a free port for the session."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def namespace() -> str:
    """A prefix for entity ids, so that no two tests, nor anyone else's data, share a key."""
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
