"""Fixtures of the end-to-end tests: the real app under a real uvicorn server, in a thread, on a
free port, against a real Redis of the module's own (policy keys are global to a server): one
server, or in the modules that ask for it, each test once on a server and once on a cluster;
or, for tests whose figures cover the whole record, a service with a Redis and a PostgreSQL
database of the test's own (`record_service`).

Tests that are not about the feature-time budget run with `PATIENT_FEATURE_TIMEOUT_MS`, so a
stall of the shared machine cannot turn their decisions degraded; tests of degraded mode make
Redis time out for sure (`CLIENT PAUSE` far longer than a short budget).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis

from feature_store.redis_server import RedisServer, start_cluster
from service.app import create_app
from service.settings import ApiKey, Settings, hash_api_key
from tests.servers import ThreadedServer

# Event times must be near the server clock (settings `event_time_*`): the tests' transactions
# happen within the hour that starts two hours ago, one minute apart by number.
EVENT_HOUR = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)


# Far above any stall of a loaded machine, far below the tests' timeouts.
PATIENT_FEATURE_TIMEOUT_MS = 5_000.0
KEYS = {
    "score": "k-score-0123456789abcdef",
    "feedback": "k-feedback-0123456789abcdef",
    "admin": "k-admin-0123456789abcdef",
    "analyst": "k-analyst-0123456789abcdef",
}


def api_keys() -> list[ApiKey]:
    return [
        ApiKey(name=f"test-{scope}", sha256=hash_api_key(key), scopes=[scope])
        for scope, key in KEYS.items()
    ]


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[scope]}"}


@pytest.fixture(scope="session", autouse=True)
def _record(service_database_url: str) -> str:
    """Every service records into the session's database (`RISKSCORE_DATABASE_URL`)."""
    return service_database_url


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


@contextmanager
def serving(settings: Settings) -> Iterator[RunningService]:
    """A service for `settings` for the length of a `with` block."""
    running = RunningService.start(settings)
    try:
        yield running
    finally:
        running.stop()


def settings_for(redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "api_keys": api_keys(),
        "feature_timeout_ms": PATIENT_FEATURE_TIMEOUT_MS,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass(frozen=True)
class Backend:
    """The Redis a service runs against: one server, or a local three-master cluster."""

    url: str
    cluster: bool

    def settings(self, **overrides: Any) -> Settings:
        return settings_for(self.url, redis_cluster=self.cluster, **overrides)

    def sync_client(self) -> redis.Redis | redis.RedisCluster:
        """A client for a test to look into what the service wrote."""
        if self.cluster:
            return redis.RedisCluster.from_url(self.url, decode_responses=True)
        return redis.Redis.from_url(self.url, decode_responses=True)


@contextmanager
def backend_of(kind: str) -> Iterator[Backend]:
    if kind == "single":
        with RedisServer() as server:
            yield Backend(server.url, cluster=False)
        return
    servers = start_cluster(masters=3)
    try:
        yield Backend(servers[0].url, cluster=True)
    finally:
        for server in servers:
            server.close()


# A module runs its service tests on both with
# `pytest.mark.parametrize("service_backend", BACKENDS, indirect=True)`.
BACKENDS = ["single", "cluster"]


@pytest.fixture(scope="module")
def service_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with backend_of(getattr(request, "param", "single")) as backend:
        yield backend


@pytest.fixture(scope="module")
def service(service_backend: Backend) -> Iterator[RunningService]:
    running = RunningService.start(service_backend.settings())
    yield running
    running.stop()


@pytest.fixture
def record_settings() -> dict[str, Any]:
    """Settings overrides of `record_service`; a module overrides this fixture for its own."""
    return {}


@pytest.fixture
def record_service(
    record_url: str, record_settings: dict[str, Any], tmp_path: Path
) -> Iterator[RunningService]:
    """A service with a Redis and a record of its own: a fresh migrated database
    (`record_url`), reached through the service's real `runtime.record` (its pool, sink, spool
    and in-process recorder), for tests whose figures cover the whole record."""
    with RedisServer() as server:
        settings = settings_for(
            server.url, database_url=record_url, spool_dir=tmp_path / "spool", **record_settings
        )
        with serving(settings) as running:
            yield running


@pytest.fixture
def http(service: RunningService) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client


def transaction(namespace: str, number: int, **changes: Any) -> dict[str, Any]:
    """A valid score request whose ids are the test's own."""
    body: dict[str, Any] = {
        "transaction_id": f"{namespace}tx{number}",
        "timestamp": (EVENT_HOUR + timedelta(minutes=number % 60)).isoformat(),
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


def recorded(http: httpx.Client, transaction_id: str, timeout_seconds: float = 15.0) -> Any:
    """The decision once the recorder has written it to PostgreSQL (`recorded: true`)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        reply = http.get(f"/v1/decisions/{transaction_id}", headers=auth("score"))
        # On a cluster the replay record is a command of its own: a lookup right after the
        # score may find neither it nor the record yet.
        if reply.status_code == 404 and time.monotonic() <= deadline:
            time.sleep(0.05)
            continue
        assert reply.status_code == 200, reply.text
        if reply.json()["recorded"] or time.monotonic() > deadline:
            return reply.json()
        time.sleep(0.05)


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


def case_of(http: httpx.Client, card_id: str, timeout_seconds: float = 15.0) -> dict[str, Any]:
    """The card's case, once the recorder has opened it (read over the API)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        reply = http.get("/v1/cases", params={"card_id": card_id}, headers=auth("analyst"))
        assert reply.status_code == 200, reply.text
        found = reply.json()["cases"]
        if found or time.monotonic() > deadline:
            assert found, f"no case opened for {card_id}"
            return dict(found[-1])
        time.sleep(0.05)
