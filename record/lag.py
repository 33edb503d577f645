"""Recording lag, for metrics and readiness: how far the record in PostgreSQL is behind.

stream (entries not yet recorded, the age of the oldest) + each worker's spool (bytes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from redis import asyncio as aioredis

from record.recorder import GROUP, as_text, oldest_unrecorded_id
from record.sink import STREAM
from record.spool import Spool


@dataclass(frozen=True)
class RecordingLag:
    stream_entries: int  # entries in the stream, recorded ones not yet trimmed included
    unrecorded_entries: int  # delivered but unacknowledged, plus never delivered
    oldest_unrecorded_age_seconds: float | None  # None when nothing waits
    spool_bytes: int  # in this worker's spool folder


async def measure_lag(
    redis: aioredis.Redis,
    spool: Spool | None = None,
    *,
    stream: str = STREAM,
    group: str = GROUP,
) -> RecordingLag:
    """Three Redis calls; raises redis-py's errors when Redis is down."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xlen(stream)
        pipe.xinfo_groups(stream)
        pipe.xpending(stream, group)
        length, groups, pending = await _execute(pipe)
    oldest = oldest_unrecorded_id(groups, pending, group) or "-"
    first = await redis.xrange(stream, min=oldest, count=1)
    info = next((g for g in groups if as_text(g["name"]) == group), None)
    unrecorded = length if info is None else int(info["pending"]) + int(info.get("lag") or 0)
    age = None
    if first:
        entry_id: Any = first[0][0]
        milliseconds = int(as_text(entry_id).split("-")[0])
        age = max(0.0, time.time() - milliseconds / 1000)
    spooled = spool.size_bytes(refresh=True) if spool is not None else 0
    return RecordingLag(int(length), unrecorded, age, spooled)


async def _execute(pipe: aioredis.client.Pipeline) -> list[Any]:
    """XLEN, XINFO GROUPS and XPENDING's replies; a stream that does not exist yet is empty,
    and one that no recorder has read yet (no group) is unrecorded as a whole."""
    length, groups, pending = await pipe.execute(raise_on_error=False)
    for reply in (length, groups, pending):
        if isinstance(reply, aioredis.ResponseError) and not (
            "no such key" in str(reply) or "NOGROUP" in str(reply)
        ):
            raise reply
    if isinstance(groups, aioredis.ResponseError):  # no stream: nothing to record
        return [0, [], {"pending": 0}]
    if isinstance(pending, aioredis.ResponseError):  # entries, but no recorder read any
        return [length, groups, {"pending": 0}]
    return [length, groups, pending]
