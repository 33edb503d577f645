"""Decisions leaving the score path: the whole record to the system of record, a short
replay record to Redis for the retry window.

score path -> `DecisionStore.save` -> the record (`scoring.record_codec`, encoded once) to
the `RecordSink` (-> Redis stream -> recorder -> PostgreSQL), and the replay record (the
answer and the body's fingerprint) to Redis with the replay TTL -> idempotent retries read it
back. Labels sent back are appended to a stream in raw history columns (`docs/api.md`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis import exceptions as redis_errors

from feature_store import keys
from feature_store.online import Client
from feature_store.resp import RespClient
from record.sink import RecordSink
from scoring.errors import DecisionStoreError
from scoring.record_codec import decode_replay, encode_record, encode_replay
from scoring.results import DecisionRecord, Replay

# The record of a decision by transaction id once the replay record expired (PostgreSQL).
Archive = Callable[[str], Awaitable[Replay | None]]


class DecisionStore:
    """Sends decisions to the record and keeps replay records and kept labels in Redis.

    >>> store = DecisionStore(client, ttl_seconds=3_600, timeout_ms=50, sink=sink)
    >>> await store.save(record)  # a `DecisionRecord`
    >>> replay = await store.load("tx-1")  # its `Replay`, or None
    """

    def __init__(
        self,
        client: Client,
        *,
        ttl_seconds: int,
        timeout_ms: float,
        sink: RecordSink | None = None,
        archive: Archive | None = None,
    ) -> None:
        self.client = client
        self.sink = sink  # None: decisions are not recorded (tools and tests of replays only)
        self.archive = archive
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_ms / 1000.0
        self.failures = 0  # replay writes that failed (never raised)
        self.on_failure: Callable[[], object] | None = None  # e.g. a metric's `inc`
        self._in_flight: set[asyncio.Future[Any]] = set()

    async def save(self, record: DecisionRecord) -> None:
        """Send the record to the sink and the replay record to Redis; a replay record already
        stored for the transaction id is kept (and the record keeps the first decision of an
        id too: it is idempotent on it).

        On a single server this returns without waiting: both commands leave with the worker's
        next write to Redis, within 2 ms, ahead of any later command of this worker (a retry's
        feature call among them). Elsewhere (a cluster, where the replay record lives on a slot
        of its own) the replay write is awaited, so that a lookup or a retry sent right after
        the answer finds it: one more round trip. Either way a failed replay write is counted in
        `failures`, never raised, and a record the stream cannot take goes to the sink's spool.
        """
        if self.sink is not None:
            self.sink.send(encode_record(record))
        body = encode_replay(record)
        key = keys.decision_key(record.transaction_id)
        # NX: the first decision for a transaction id stays. A retry that could not be
        # recognised as one (Redis too slow for its feature call: a degraded decision) must
        # not replace what the first attempt decided.
        arguments = ("SET", key, body, "NX", "EX", self.ttl_seconds)
        lean = isinstance(self.client, RespClient)
        sent = self.client.send_later(*arguments) if isinstance(self.client, RespClient) else None
        future = sent if sent is not None else asyncio.ensure_future(self._call(*arguments))
        self._in_flight.add(future)
        future.add_done_callback(self._done)
        if not lean:
            await asyncio.wait([future])

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._in_flight.discard(future)
        failed = future.cancelled() or future.exception() is not None
        if failed or isinstance(future.result(), Exception):  # no reply, or an error reply
            self.failures += 1
            if self.on_failure is not None:
                self.on_failure()

    async def load(self, transaction_id: str) -> Replay | None:
        """The replay record, None when there is none (never stored, or past the replay TTL).

        Raises `DecisionStoreError` when Redis fails, `RecordFormatError` (one of them) when
        what is stored cannot be read back.
        """
        raw = await self._call("GET", keys.decision_key(transaction_id))
        return None if raw is None else decode_replay(raw)

    async def load_archived(self, transaction_id: str) -> Replay | None:
        """The decision from the system of record (None without one, or not recorded)."""
        return None if self.archive is None else await self.archive(transaction_id)

    async def _call(self, *arguments: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self.client.execute_command(*arguments)
        except TimeoutError as exc:
            raise DecisionStoreError(
                f"Redis did not answer within {self.timeout_seconds * 1000:.0f} ms"
            ) from exc
        except (redis_errors.RedisError, OSError) as exc:
            raise DecisionStoreError(f"Redis failed: {exc}") from exc
