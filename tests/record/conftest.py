"""Fixtures of the record's tests: a real PostgreSQL for the session (private unless
RISKSCORE_TEST_DATABASE_URL names a server), and a fresh, migrated database per test."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import psycopg
import pytest

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
