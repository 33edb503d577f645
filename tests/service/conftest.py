"""Fixtures of the end-to-end tests: the real app under a real uvicorn server, in a thread, on a
free port, against a real Redis of the module's own (policy keys are global to a server).

Tests that are not about the feature-time budget run with `PATIENT_FEATURE_TIMEOUT_MS`, so a
stall of the shared machine cannot turn their decisions degraded; tests of degraded mode make
Redis time out for sure (`CLIENT PAUSE` far longer than a short budget).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
import redis

from feature_store.redis_server import RedisServer
from service.app import create_app
from service.settings import ApiKey, Settings, hash_api_key
from tests.servers import ThreadedServer

# Far above any stall of a loaded machine, far below the tests' timeouts.
PATIENT_FEATURE_TIMEOUT_MS = 5_000.0
KEYS = {
    "score": "k-score-0123456789abcdef",
    "feedback": "k-feedback-0123456789abcdef",
    "admin": "k-admin-0123456789abcdef",
}


def api_keys() -> list[ApiKey]:
    return [
        ApiKey(name=f"test-{scope}", sha256=hash_api_key(key), scopes=[scope])
        for scope, key in KEYS.items()
    ]


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[scope]}"}


@dataclass
class RunningService:
    """The app of `create_app(settings)` under a real uvicorn server in a background thread."""

    settings: Settings
    server: ThreadedServer

    @classmethod
    def start(cls, settings: Settings) -> RunningService:
        return cls(settings, ThreadedServer(create_app(settings)).start())

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0)

    def stop(self) -> None:
        self.server.stop()


def settings_for(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "api_keys": api_keys(),
        "feature_timeout_ms": PATIENT_FEATURE_TIMEOUT_MS,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def service_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def service(service_redis: RedisServer) -> Iterator[RunningService]:
    running = RunningService.start(settings_for(service_redis.url))
    yield running
    running.stop()


@pytest.fixture
def http(service: RunningService) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client


def transaction(namespace: str, number: int, **changes: Any) -> dict[str, Any]:
    """A valid score request whose ids are the test's own."""
    body: dict[str, Any] = {
        "transaction_id": f"{namespace}tx{number}",
        "timestamp": f"2026-11-23T10:{number % 60:02d}:00+01:00",
        "amount": 42.5,
        "currency": "EUR",
        "card": {"id": f"{namespace}card", "bin": "424242", "country": "FR"},
        "merchant": {"id": f"{namespace}merchant", "mcc": "5732", "country": "FR"},
        "customer": {"id": f"{namespace}cust", "email_domain": "example.com"},
        "device": {"id": f"{namespace}dev", "ip": "203.0.113.7", "ip_country": "FR"},
        "channel": "ecom",
    }
    body.update(changes)
    return body


# A feature budget that a paused Redis certainly exceeds: degraded mode for sure.
IMPATIENT_FEATURE_TIMEOUT_MS = 100.0
PAUSE_MS = 60_000


@contextmanager
def writes_paused(redis_url: str) -> Iterator[redis.Redis]:
    """`CLIENT PAUSE WRITE` on the test's private Redis until the block ends: every feature
    call (a script that writes) waits, reads go on. Unpaused even when the test fails."""
    client = redis.Redis.from_url(redis_url)
    client.client_pause(PAUSE_MS, all=False)  # all=False: CLIENT PAUSE ... WRITE
    try:
        yield client
    finally:
        client.client_unpause()
        client.close()


def reasons(body: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in body["reasons"]]


def stream_entries(redis_url: str, stream: str) -> list[dict[str, str]]:
    """The fields of every entry of a Redis stream (the audit trail, the kept labels)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = cast(list[tuple[str, dict[str, str]]], client.xrange(stream))
    finally:
        client.close()
    return [fields for _, fields in entries]
