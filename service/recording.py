"""The worker's handle on the system of record (`runtime.record`): the sink the score path
sends every decision to, a PostgreSQL connection pool for lookups and labels, and the recorder.

start -> schema check (a newer schema refuses the worker) -> sink + spool -> pool (opened in the
background: PostgreSQL down leaves scoring up) -> recorder task (RISKSCORE_RECORDER=inprocess).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from redis.asyncio import Redis

from cases.opening import open_cases
from record import schema
from record.decisions import find_decision
from record.errors import RecordUnavailableError
from record.lag import RecordingLag, measure_lag
from record.recorder import Recorder, RecorderSettings
from record.sink import RecordSink, StreamClient
from record.spool import Spool
from record.writer import BatchHook
from scoring.record_codec import FEATURE_ORDER, replay_of_row
from scoring.results import Replay
from service.settings import Settings
from webhooks.sources import decisions_created

logger = logging.getLogger(__name__)
POOL_TIMEOUT_SECONDS = 2.0  # a lookup waits this long for a connection, then 503
RECORDER_RESTART_SECONDS = 5.0

# What a decision new to the record starts, in the recorder's batch transaction (in the
# service's recorder and in `riskscore recorder` alike).
BATCH_HOOKS: tuple[BatchHook, ...] = (open_cases, decisions_created)
# The feature layouts of the records this build encodes, which its recorders register.
FEATURE_LAYOUTS: tuple[tuple[str, ...], ...] = (FEATURE_ORDER,)


@dataclass
class Recording:
    """`runtime.record`: `connection()` for queries, `sink` for records, `lag()` for health.

    >>> async with runtime.record.connection() as connection:
    ...     page = await list_decisions(connection, DecisionFilter(decision="review"))
    """

    database_url: str
    sink: RecordSink
    pool: AsyncConnectionPool
    redis: Redis
    recorder: Recorder | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, stream_client: StreamClient, redis: Any) -> Recording:
        """Check the schema, then start the sink, the pool and (by default) the recorder.

        Raises `SchemaVersionError` for a database this build does not know or that is behind;
        a database that does not answer is logged and waited for.
        """
        if settings.database_url is None:
            raise RuntimeError(
                "no database URL: set RISKSCORE_DATABASE_URL (riskscore serve starts a private "
                "PostgreSQL by itself when none is configured)"
            )
        url = settings.database_url
        try:
            await asyncio.to_thread(schema.check, url)
        except RecordUnavailableError as exc:
            logger.warning("PostgreSQL unavailable at start (%s); scoring goes on", exc)
        spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes)
        sink = RecordSink(stream_client, spool)
        pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=4,
            open=False,
            timeout=POOL_TIMEOUT_SECONDS,
            kwargs={"autocommit": True, "connect_timeout": 5},
        )
        await pool.open(wait=False)
        recording = cls(url, sink, pool, cast(Redis, redis))
        recording.tasks.append(asyncio.create_task(sink.run()))
        if settings.recorder == "inprocess":
            recorder_settings = RecorderSettings(retention_days=settings.record_retention_days)
            recording.recorder = Recorder(
                recording.redis, url, recorder_settings, BATCH_HOOKS, FEATURE_LAYOUTS
            )
            recording.tasks.append(asyncio.create_task(recording._record()))
        return recording

    async def _record(self) -> None:
        """Run the recorder until cancelled. An outage at its start (the schema check) is
        waited out; any other failure is logged and the recorder restarted: what it had not
        acknowledged is still pending in the group, so nothing is lost by a restart."""
        assert self.recorder is not None
        while True:
            try:
                await self.recorder.run()
            except RecordUnavailableError as exc:
                logger.warning("recorder waiting for PostgreSQL: %s", exc)
            except Exception:  # a bug or a refusal we did not foresee: never a silent stop
                logger.exception("recorder failed; restarting it")
                await self.recorder.aclose()
            await asyncio.sleep(RECORDER_RESTART_SECONDS)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled autocommit connection; `RecordUnavailableError` when PostgreSQL is down."""
        try:
            async with self.pool.connection() as connection:
                yield connection
        except (PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise RecordUnavailableError(f"PostgreSQL unavailable: {exc}") from exc

    async def archived(self, transaction_id: str) -> Replay | None:
        """The recorded decision as a replay (a retry past the replay TTL); None when not
        recorded or when PostgreSQL does not answer (the retry is then told to come back)."""
        try:
            async with self.connection() as connection:
                row = await find_decision(connection, transaction_id)
        except RecordUnavailableError:
            return None
        return None if row is None else replay_of_row(row)

    async def lag(self) -> RecordingLag:
        """How far the record is behind (stream, spool); raises redis-py's errors."""
        return await measure_lag(self.redis, self.sink.spool)

    async def database_state(self) -> str:
        """ "ok", or why PostgreSQL does not answer (for /readyz)."""
        try:
            async with asyncio.timeout(0.5), self.connection() as connection:
                await connection.execute("SELECT 1")
        except (TimeoutError, RecordUnavailableError, psycopg.Error) as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.recorder is not None:
            await self.recorder.aclose()
        await self.sink.aclose()
        await self.pool.close()
