"""Helpers of the record's tests (the PostgreSQL fixtures are in tests/conftest.py): a Redis
that survives a restart, a count of what was recorded, and `riskscore recorder` processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import psycopg

from feature_store.redis_server import RedisServer, find_redis_server

T = TypeVar("T")


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


def recorder_process(
    redis_url: str, database_url: str, stream: str, consumer: str
) -> subprocess.Popen[bytes]:
    """`riskscore recorder` in a process of its own: batches of 500, and a dead recorder's
    batch taken over after 1 s."""
    command = [
        sys.executable, "-m", "riskscore.cli", "recorder",
        "--redis-url", redis_url, "--database-url", database_url, "--stream", stream,
        "--consumer", consumer, "--batch-size", "500", "--claim-idle-ms", "1000",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
