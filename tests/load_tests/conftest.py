"""Fixtures of the load-test tests: a small simulated pool, and the real service (the app of
`create_app`, default model and policy, a private Redis) under a real uvicorn server in a
thread, in development mode, as `make run` serves it: the tools send its development key."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from feature_store.redis_server import RedisServer
from load_tests.traffic import Pool, simulated_pool
from service.settings import ApiKey, hash_api_key
from tests.service.conftest import RunningService, settings_for, writes_paused

# The key the runner tests send: a configured score key, like a checkout's.
KEY = "k-loadtest-0123456789abcdef"


@dataclass
class Served:
    url: str
    redis_url: str

    def stall(self, after_seconds: float, for_seconds: float) -> None:
        """From `after_seconds` on, hold every feature call for `for_seconds` (Redis writes
        paused): the service stalls as it does when Redis does."""

        def pause() -> None:
            with writes_paused(self.redis_url):
                threading.Event().wait(for_seconds)

        threading.Timer(after_seconds, pause).start()


@pytest.fixture(scope="module")
def served(service_database_url: str) -> Iterator[Served]:
    """The real service (its decisions recorded into the session's database)."""
    key = ApiKey(name="loadtest", sha256=hash_api_key(KEY), scopes=["score"])
    with RedisServer() as server:
        settings = settings_for(server.url, development=True, api_keys=[key], echo_endpoint=True)
        service = RunningService.start(settings)
        try:
            yield Served(service.url, server.url)
        finally:
            service.stop()


@pytest.fixture(scope="session")
def pool() -> Pool:
    return simulated_pool(transactions=5_000)
