"""The producer end of the record: the score path hands each decision record here.

score path -> `RecordSink.send(body)` (never waits) -> XADD to the record stream, with the
worker's next Redis write when the client can pipeline (`send_later`) -> the recorder.
When Redis fails or the stream holds `max_stream_entries`, records go to the local `Spool`,
and `run` drains them back once Redis takes them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from record.spool import Spool

LOG = logging.getLogger(__name__)
STREAM = "rs:v1:records"  # one entry per decision record: field "r" = the record's JSON
FIELD = "r"
# About 3 GB of Redis at 3 KB a record: 50 minutes of 1,000 decisions/s with PostgreSQL down.
DEFAULT_MAX_STREAM_ENTRIES = 1_000_000
CHECK_INTERVAL_SECONDS = 1.0
DRAIN_BATCH = 500


class Placement(enum.Enum):
    """Where a sent record went."""

    STREAM = "stream"
    SPOOL = "spool"
    DROPPED = "dropped"  # stream over its bound or Redis down, and the spool full


class StreamClient(Protocol):
    async def execute_command(self, *arguments: Any) -> Any: ...


@runtime_checkable
class PipeliningClient(Protocol):
    """A client that can send a command with its next write (feature_store's RespClient)."""

    async def execute_command(self, *arguments: Any) -> Any: ...

    def send_later(self, *arguments: Any) -> asyncio.Future[Any] | None: ...


@dataclass
class SinkCounters:
    streamed: int = 0
    spooled: int = 0
    drained: int = 0
    dropped: int = 0


class RecordSink:
    """Sends records to the stream, or to the spool while the stream cannot take them.

    >>> sink = RecordSink(client, Spool(path))
    >>> task = asyncio.create_task(sink.run())   # bound checks and spool draining
    >>> placed = sink.send(orjson.dumps(record))  # awaiting it is optional
    """

    def __init__(
        self,
        client: StreamClient,
        spool: Spool,
        *,
        stream: str = STREAM,
        max_stream_entries: int = DEFAULT_MAX_STREAM_ENTRIES,
        timeout_seconds: float = 0.5,
    ) -> None:
        self.client = client
        self.spool = spool
        self.stream = stream
        self.max_stream_entries = max_stream_entries
        self.timeout_seconds = timeout_seconds
        self.stream_entries = 0  # as of the last check
        self.spooling = False  # True while the stream is unreachable or full
        self.counters = SinkCounters()
        self.on_dropped: Callable[[], object] | None = None  # e.g. a metric's `inc`
        self._tasks: set[asyncio.Future[Any]] = set()

    def send(self, body: bytes) -> asyncio.Future[Placement]:
        """Place one record (its JSON) and return at once; the future says where it went.

        The score path need not await it: a record is never lost once placed in the stream
        or the spool. Awaiting it (the next Redis write, within 2 ms) covers the worker's own
        kill -9 between the response and the write too.
        """
        placed: asyncio.Future[Placement] = asyncio.get_running_loop().create_future()
        if self.spooling:
            placed.set_result(self._spool(body))
            return placed
        reply = self._xadd(body)
        reply.add_done_callback(lambda done: self._settle(done, body, placed))
        return placed

    def _xadd(self, body: bytes) -> asyncio.Future[Any]:
        arguments = ("XADD", self.stream, "*", FIELD, body)
        if isinstance(self.client, PipeliningClient):
            sent = self.client.send_later(*arguments)
            if sent is not None:
                return sent
        future = asyncio.ensure_future(self._call(*arguments))
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    def _settle(
        self, reply: asyncio.Future[Any], body: bytes, placed: asyncio.Future[Placement]
    ) -> None:
        failed = reply.cancelled() or reply.exception() is not None
        if failed or isinstance(reply.result(), Exception):  # no reply, or an error reply
            self.spooling = True  # until `run` sees Redis take writes again
            placement = self._spool(body)
        else:
            self.counters.streamed += 1
            placement = Placement.STREAM
        if not placed.done():
            placed.set_result(placement)

    def _spool(self, body: bytes) -> Placement:
        if self.spool.append(body):
            self.counters.spooled += 1
            return Placement.SPOOL
        self.counters.dropped += 1
        LOG.error(
            "decision record dropped: the record stream cannot take it and the spool at %s "
            "holds its %d bytes",
            self.spool.directory,
            self.spool.max_bytes,
        )
        if self.on_dropped is not None:
            self.on_dropped()
        return Placement.DROPPED

    async def _call(self, *arguments: Any) -> Any:
        async with asyncio.timeout(self.timeout_seconds):
            return await self.client.execute_command(*arguments)

    async def check(self) -> None:
        """Measure the stream; spool while it is unreachable or full, drain when it is not."""
        try:
            self.stream_entries = int(await self._call("XLEN", self.stream))
        except Exception as exc:  # any failure of Redis: keep spooling, try again later
            LOG.warning("record stream unreachable (%s); records go to the spool", exc)
            self.spooling = True
            return
        self.spooling = self.stream_entries >= self.max_stream_entries
        if not self.spooling:
            await self.drain()

    async def drain(self) -> int:
        """Move spooled records to the stream while it takes them; returns how many moved."""
        moved = 0
        segments = self.spool.drain()
        try:
            for segment in segments:
                for batch in segment.batches(DRAIN_BATCH):
                    if not await self._push(batch):
                        return moved
                    moved += len(batch)
                    self.counters.drained += len(batch)
                segment.done()
        finally:
            segments.close()  # unlocks the segment it holds
        return moved

    async def _push(self, bodies: list[bytes]) -> bool:
        """XADD every body; False (and spooling on) when any failed. A failed segment is sent
        again whole later: its records that did arrive are recorded once all the same."""
        if self.stream_entries + len(bodies) > self.max_stream_entries:
            self.spooling = True
            return False
        try:
            replies = await self._xadd_all(bodies)
        except Exception:  # any failure of Redis: the whole segment is sent again later
            replies = [None]
        if any(reply is None or isinstance(reply, BaseException) for reply in replies):
            self.spooling = True
            return False
        self.stream_entries += len(bodies)
        return True

    async def _xadd_all(self, bodies: list[bytes]) -> list[Any]:
        """XADD each body: on one connection, pipelined (RespClient, or a redis-py pipeline:
        a redis-py client would otherwise take a pooled connection per command)."""
        if isinstance(self.client, PipeliningClient):
            sends = [self._call("XADD", self.stream, "*", FIELD, body) for body in bodies]
            return list(await asyncio.gather(*sends, return_exceptions=True))
        pipe = self.client.pipeline(transaction=False)  # type: ignore[attr-defined]
        for body in bodies:
            pipe.execute_command("XADD", self.stream, "*", FIELD, body)
        async with asyncio.timeout(self.timeout_seconds * 4):
            return list(await pipe.execute(raise_on_error=False))

    async def run(self, interval_seconds: float = CHECK_INTERVAL_SECONDS) -> None:
        """Check the stream every `interval_seconds` until cancelled."""
        while True:
            task = asyncio.current_task()
            if task is not None and task.cancelling() > 0:  # redis-py may swallow the cancel
                raise asyncio.CancelledError
            await self.check()
            await asyncio.sleep(interval_seconds)

    async def aclose(self) -> None:
        """Wait for records still in flight, then close the spool's open segment."""
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        self.spool.close()
