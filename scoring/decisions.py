"""Stored decisions: what the score path decided, kept for retries, lookups and feedback.

score path -> `DecisionStore.save_soon` (the record as `scoring.record_codec` writes it, one string
per transaction, with a TTL) -> `GET /v1/decisions/{id}`, idempotent retries, and
`POST /v1/feedback` read the typed record back.
Labels sent back are appended to a stream in raw history columns (`docs/api.md`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from redis import exceptions as redis_errors

from feature_store import keys
from feature_store.online import Client
from feature_store.resp import RespClient
from scoring.errors import DecisionStoreError
from scoring.record_codec import decode_record, encode_record
from scoring.results import DecisionRecord

# Bounded so that the stream of kept labels cannot grow without limit (`XADD MAXLEN ~`).
LABEL_STREAM_MAX_ENTRIES = 10_000_000


class DecisionStore:
    """Reads and writes stored decisions and kept labels in Redis.

    >>> store = DecisionStore(client, ttl_seconds=86_400, timeout_ms=50)
    >>> store.save_soon(record)  # a `DecisionRecord`
    >>> record = await store.load("tx-1")  # the same record, or None
    """

    def __init__(self, client: Client, *, ttl_seconds: int, timeout_ms: float) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.timeout_seconds = timeout_ms / 1000.0
        self.failures = 0  # saves that failed after `save_soon` returned
        self.on_failure: Callable[[], object] | None = None  # e.g. a metric's `inc`
        self._in_flight: set[asyncio.Future[Any]] = set()

    def save_soon(self, record: DecisionRecord) -> None:
        """Send the decision to Redis and return without waiting for the reply; a decision
        already stored for the transaction id is kept.

        On a single server the command leaves with the worker's next write to Redis, within
        2 ms, ahead of any later command of this worker (a retry's feature call among them);
        a failure is counted in `failures`.
        """
        body = encode_record(record)
        key = keys.decision_key(record.transaction_id)
        # NX: the first decision for a transaction id stays. A retry that could not be
        # recognised as one (Redis too slow for its feature call: a degraded decision) must
        # not replace what the first attempt decided.
        arguments = ("SET", key, body, "NX", "EX", self.ttl_seconds)
        sent = self.client.send_later(*arguments) if isinstance(self.client, RespClient) else None
        future = sent if sent is not None else asyncio.ensure_future(self._call(*arguments))
        self._in_flight.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._in_flight.discard(future)
        failed = future.cancelled() or future.exception() is not None
        if failed or isinstance(future.result(), Exception):  # no reply, or an error reply
            self.failures += 1
            if self.on_failure is not None:
                self.on_failure()

    async def load(self, transaction_id: str) -> DecisionRecord | None:
        """The stored record, None when there is none (never stored, or expired).

        Raises `DecisionStoreError` when Redis fails, `RecordFormatError` (one of them) when
        what is stored cannot be read back.
        """
        raw = await self._call("GET", keys.decision_key(transaction_id))
        return None if raw is None else decode_record(raw)

    async def keep_label(self, row: dict[str, str]) -> None:
        """Append one label, as raw history columns, to the stream kept for retraining."""
        await self._append(keys.LABEL_STREAM, LABEL_STREAM_MAX_ENTRIES, row)

    async def _append(self, stream: str, max_entries: int, fields: dict[str, str]) -> None:
        flat = [part for pair in fields.items() for part in pair]
        await self._call("XADD", stream, "MAXLEN", "~", max_entries, "*", *flat)

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
