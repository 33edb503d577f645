"""Fixtures of the record's tests: a real PostgreSQL for the session (private unless
RISKSCORE_TEST_DATABASE_URL names a server), and a fresh, migrated database per test."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import psycopg
import pytest

from feature_store.redis_server import RedisServer, find_redis_server
from record import schema
from record.server import PostgresServer, create_database, database_url, drop_database

T = TypeVar("T")


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A URL of the server's maintenance database: RISKSCORE_TEST_DATABASE_URL when set (the
    tests create and drop only their own databases on it), else a private server's."""
    configured = os.environ.get("RISKSCORE_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with PostgresServer(fsync=False) as server:
        yield server.admin_url


@pytest.fixture(scope="session")
def migrated_template(postgres_admin_url: str) -> Iterator[str]:
    """A database migrated to head once, copied for each test (CREATE DATABASE ... TEMPLATE)."""
    name = f"riskscore_template_{uuid.uuid4().hex[:8]}"
    create_database(postgres_admin_url, name)
    schema.upgrade(database_url(postgres_admin_url, name))
    yield name
    drop_database(postgres_admin_url, name)


@pytest.fixture
def make_database(postgres_admin_url: str) -> Iterator[Callable[..., str]]:
    """Hands out URLs of new, uniquely named databases (migrated when from `template`); drops
    them, and only them, at teardown."""
    made: list[str] = []

    def make(template: str | None = None) -> str:
        name = f"riskscore_test_{uuid.uuid4().hex[:10]}"
        create_database(postgres_admin_url, name, template=template)
        made.append(name)
        return database_url(postgres_admin_url, name)

    yield make
    for name in made:
        drop_database(postgres_admin_url, name)


@pytest.fixture
def record_url(make_database: Callable[..., str], migrated_template: str) -> str:
    """A fresh database at the newest schema."""
    return make_database(migrated_template)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def connect(url: str) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


class DurableRedisServer(RedisServer):
    """A private redis-server that keeps its data across a stop and start (append-only file,
    fsync on every write), as the record stream's Redis must in production."""

    def start(self) -> DurableRedisServer:
        arguments = [
            str(find_redis_server()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", str(self.directory),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_until_ready()
        return self


def count_recorded(url: str) -> tuple[int, int, int]:
    """Rows in `decisions`, distinct transaction ids in it, rows in `recorded_transactions`
    (a check of the invariant, straight in SQL)."""
    with psycopg.connect(url) as connection:
        rows, distinct = connection.execute(
            "SELECT count(*), count(DISTINCT transaction_id) FROM decisions"
        ).fetchone()  # type: ignore[misc]
        (claimed,) = connection.execute("SELECT count(*) FROM recorded_transactions").fetchone()  # type: ignore[misc]
        return rows, distinct, claimed
