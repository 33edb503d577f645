"""The recorder: moves decision records from the Redis stream into PostgreSQL, in batches.

stream -> XREADGROUP (or XAUTOCLAIM of a dead recorder's entries) -> COPY + INSERT in one
transaction -> XACK only after the commit -> XTRIM of what every recorder has acknowledged.
Runs as a task in the service or as its own process (`riskscore recorder`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import AsyncConnection
from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from record import partitions, schema
from record.sink import FIELD, STREAM
from record.writer import BatchHook, DecisionWriter

LOG = logging.getLogger(__name__)
REFUSED_STREAM = "rs:v1:records:refused"  # records PostgreSQL refused, with the reason
REFUSED_MAX_ENTRIES = 100_000
GROUP = "recorder"
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)
REFUSED = (psycopg.DataError, psycopg.IntegrityError)

Entry = tuple[bytes, dict[bytes, bytes]]
FIELD_KEY = FIELD.encode()


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class RecorderSettings:
    """How a recorder reads the stream. `claim_idle_ms`: how long a batch may stay unacked
    with its consumer before another recorder takes it over (its consumer is taken as dead).
    `linger_ms`: after a batch smaller than `batch_size`, how long to let records gather
    before the next read (a batch costs a transaction, a commit and four Redis round trips
    whatever its size: without it a quiet stream costs them for every record or two)."""

    stream: str = STREAM
    group: str = GROUP
    consumer: str = field(default_factory=default_consumer)
    batch_size: int = 5_000
    block_ms: int = 1_000
    linger_ms: int = 200
    claim_idle_ms: int = 30_000
    retry_seconds: float = 1.0
    retention_days: int = partitions.DEFAULT_RETENTION_DAYS
    maintenance_interval_seconds: float = 3_600.0


@dataclass
class RecorderCounters:
    recorded: int = 0  # rows new to PostgreSQL
    duplicates: int = 0  # records already recorded (a retried send, a re-claimed batch)
    refused: int = 0  # records PostgreSQL refused: moved to REFUSED_STREAM
    batches: int = 0


class Recorder:
    """One consumer of the record stream's consumer group.

    >>> recorder = Recorder(redis_client, "postgresql://...", RecorderSettings())
    >>> task = asyncio.create_task(recorder.run())
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        database_url: str,
        settings: RecorderSettings | None = None,
        hooks: Sequence[BatchHook] = (),
        layouts: Sequence[Sequence[str]] = (),
    ) -> None:
        self.redis = redis
        self.database_url = database_url
        self.settings = settings or RecorderSettings()
        self.counters = RecorderCounters()
        self.writer = DecisionWriter(hooks, layouts)
        self._connection: AsyncConnection | None = None
        self._maintained_at = float("-inf")
        self._claimed_at = float("-inf")

    async def run(self) -> None:
        """Record until cancelled; waits out Redis and PostgreSQL outages, losing nothing."""
        await asyncio.to_thread(schema.check, self.database_url)
        own = await self._redis_retrying(self._read, "0")  # ours from before a restart
        while True:
            _raise_if_cancelled()
            entries = own or await self._redis_retrying(self._next)
            own = []
            if entries:
                await self.record(entries)
                if len(entries) < self.settings.batch_size:
                    await asyncio.sleep(self.settings.linger_ms / 1000)

    async def record(self, entries: list[Entry]) -> None:
        """Commit `entries` to PostgreSQL (retrying until it is up), then acknowledge them."""
        await self._commit(entries)
        ids = [entry_id for entry_id, _ in entries]
        await self._redis_retrying(self._acknowledge, ids)
        self.counters.batches += 1

    async def _next(self) -> list[Entry]:
        now = time.monotonic()
        if now - self._claimed_at >= self.settings.claim_idle_ms / 2000:
            self._claimed_at = now
            claimed = await self._claim()
            if claimed:
                return claimed
        return await self._read(">")

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(
                self.settings.stream, self.settings.group, "0", mkstream=True
            )
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str) -> list[Entry]:
        await self._ensure_group()
        s = self.settings
        reply: Any = await self.redis.xreadgroup(  # RESP2: [[stream, [(id, fields)]]]
            s.group, s.consumer, {s.stream: start}, count=s.batch_size, block=s.block_ms
        )
        return [(i, f) for _, entries in reply or [] for i, f in entries if f]

    async def _claim(self) -> list[Entry]:
        s = self.settings
        reply = await self.redis.xautoclaim(
            s.stream, s.group, s.consumer, s.claim_idle_ms, "0-0", count=s.batch_size
        )
        entries = [(i, f) for i, f in reply[1] if f]
        if entries:
            LOG.warning("took over %d unacknowledged records from a stopped recorder", len(entries))
        return entries

    async def _acknowledge(self, ids: list[bytes]) -> None:
        s = self.settings
        await self.redis.xack(s.stream, s.group, *ids)
        await self._trim()

    async def _trim(self) -> None:
        """Drop from the stream every entry before the oldest one not yet acknowledged: what
        was delivered and is no longer pending is recorded. Nothing unrecorded is trimmed."""
        s = self.settings
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xinfo_groups(s.stream)
            pipe.xpending(s.stream, s.group)
            groups, pending = await pipe.execute()
        oldest = oldest_unrecorded_id(groups, pending, s.group)
        if oldest is not None:
            await self.redis.xtrim(s.stream, minid=oldest, approximate=True)

    async def _commit(self, entries: list[Entry]) -> None:
        one_by_one = False  # after PostgreSQL refused the batch whole
        while True:
            try:
                connection = await self._connected()
                await self._maintain(connection)
                if one_by_one:
                    await self._write_one_by_one(connection, entries)
                else:
                    await self._write(connection, entries)
                return
            except REFUSED:
                one_by_one = True
            except UNAVAILABLE as exc:
                LOG.warning("PostgreSQL unavailable (%s); retrying the batch", exc)
                await self._disconnect()
                await asyncio.sleep(self.settings.retry_seconds)

    async def _write(self, connection: AsyncConnection, entries: list[Entry]) -> None:
        written = await self.writer.write(connection, [f[FIELD_KEY] for _, f in entries])
        for index, reason in written.malformed:
            entry_id, fields = entries[index]
            await self._refuse(entry_id, fields[FIELD_KEY], reason)
        self.counters.recorded += written.new
        self.counters.duplicates += len(entries) - len(written.malformed) - written.new

    async def _write_one_by_one(self, connection: AsyncConnection, entries: list[Entry]) -> None:
        """PostgreSQL refused a batch (a value it does not take): find the record, keep the
        rest. Those written before an outage are recorded once when the batch is retried."""
        for entry in entries:
            try:
                await self._write(connection, [entry])
            except REFUSED as exc:
                await self._refuse(entry[0], entry[1][FIELD_KEY], str(exc).splitlines()[0])

    async def _refuse(self, entry_id: bytes, body: bytes, reason: str) -> None:
        LOG.error(
            "record %s refused by PostgreSQL (%s); kept in %s",
            entry_id.decode(),
            reason,
            REFUSED_STREAM,
        )
        fields: dict[Any, Any] = {"id": entry_id, FIELD: body, "error": reason}
        await self._redis_retrying(
            self.redis.xadd, REFUSED_STREAM, fields, maxlen=REFUSED_MAX_ENTRIES, approximate=True
        )
        self.counters.refused += 1

    async def _maintain(self, connection: AsyncConnection) -> None:
        if time.monotonic() - self._maintained_at < self.settings.maintenance_interval_seconds:
            return
        done = await partitions.maintain(connection, retention_days=self.settings.retention_days)
        self._maintained_at = time.monotonic()
        LOG.info(
            "record partitions: %d created, %d dropped (kept from %s)",
            done.created,
            done.dropped,
            done.keep_from,
        )

    async def _connected(self) -> AsyncConnection:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(
                self.database_url, autocommit=True, connect_timeout=5
            )
        return self._connection

    async def _disconnect(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _redis_retrying(self, call: Any, *arguments: Any, **options: Any) -> Any:
        while True:
            _raise_if_cancelled()
            try:
                return await call(*arguments, **options)
            except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
                LOG.warning("Redis unavailable (%s); retrying", exc)
                await asyncio.sleep(self.settings.retry_seconds)

    async def aclose(self) -> None:
        await self._disconnect()


def _raise_if_cancelled() -> None:
    """redis-py may swallow a task's `CancelledError` mid-command (feature_store/loops.py):
    without this check a cancelled recorder would go on recording."""
    task = asyncio.current_task()
    if task is not None and task.cancelling() > 0:
        raise asyncio.CancelledError


def oldest_unrecorded_id(
    groups: list[dict[str, Any]], pending: dict[str, Any], group: str
) -> str | None:
    """The first stream id not yet recorded: the oldest pending entry, else the one after the
    last entry delivered to `group`. None when the group does not exist."""
    for info in groups:
        if as_text(info["name"]) == group:
            if pending["pending"]:
                return as_text(pending["min"])
            milliseconds, sequence = as_text(info["last-delivered-id"]).split("-")
            return f"{milliseconds}-{int(sequence) + 1}"
    return None


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
