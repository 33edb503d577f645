"""The admin side of the lists: entries added, removed, shown and purged in Redis, each change
bumping the list's version counter that every worker's snapshot polls.

admin (CLI, admin API) -> `ListStore` (validated, chunked, atomic per chunk) -> Redis
(`policy.lists.keys`) -> `policy.lists.snapshot.ListSnapshot` in every worker.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from feature_store.keys import PREFIX
from policy.lists.errors import ListEntryError, ListExpiryError, UnknownListError
from policy.lists.keys import ListKeys, decoded
from policy.lists.kinds import ListKind, check_list_name, normalise_entry

logger = logging.getLogger(__name__)

CHUNK_SIZE = 10_000  # entries per write transaction and per HSCAN call


@dataclass(frozen=True)
class ListEntry:
    """One entry as `show` reports it; times are epoch seconds."""

    value: str
    added_at: float
    actor: str
    note: str | None
    expires_at: float | None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def expiry_epoch(moment: datetime, *, now: float | None = None) -> float:
    """An entry's expiry as epoch seconds; raises ListExpiryError unless it is an aware time
    in the future (an entry that has expired already would be written and never match)."""
    if moment.tzinfo is None:
        raise ListExpiryError(
            f"expires_at {moment.isoformat()} has no time zone: add Z or an offset"
        )
    epoch = moment.astimezone(UTC).timestamp()
    if epoch <= (time.time() if now is None else now):
        raise ListExpiryError(
            f"expires_at {moment.isoformat()} is in the past: give a time to come, or none "
            "for an entry that does not expire"
        )
    return epoch


# One chunk of an add, atomic; the metadata is sent once, not once per entry.
# KEYS: entries, expiry, version, names; ARGV: name, metadata, expires_at or "", entries...
_ADD_SCRIPT = """
local meta, expires_at = ARGV[2], ARGV[3]
local clear = expires_at == '' and redis.call('EXISTS', KEYS[2]) == 1
local entries, expiry, gone = {}, {}, {}
local function flush(command, key, batch, size)
  if #batch >= size and #batch > 0 then
    redis.call(command, key, unpack(batch))
    return {}
  end
  return batch
end
for i = 4, #ARGV do
  entries[#entries + 1] = ARGV[i]
  entries[#entries + 1] = meta
  entries = flush('HSET', KEYS[1], entries, 1000)
  if expires_at ~= '' then
    expiry[#expiry + 1] = expires_at
    expiry[#expiry + 1] = ARGV[i]
    expiry = flush('ZADD', KEYS[2], expiry, 1000)
  elseif clear then
    gone[#gone + 1] = ARGV[i]
    gone = flush('ZREM', KEYS[2], gone, 1000)
  end
end
flush('HSET', KEYS[1], entries, 0)
flush('ZADD', KEYS[2], expiry, 0)
flush('ZREM', KEYS[2], gone, 0)
redis.call('SADD', KEYS[4], ARGV[1])
return redis.call('INCR', KEYS[3])
"""


class ListStore:
    """Admin operations on the lists declared in the policy (`lists`: name -> kind).

    >>> store = ListStore(Redis.from_url(url), {"blocked_ips": ListKind.IP})
    >>> await store.add("blocked_ips", ["203.0.113.0/24"], actor="alice", note="ticket 42")

    Every change is atomic per chunk of entries and bumps the list's version counter, which
    the workers' `ListSnapshot` polls.
    """

    def __init__(self, client: Redis, lists: Mapping[str, ListKind], *, prefix: str = PREFIX):
        self.client = client
        self.lists = dict(lists)
        self.keys = ListKeys(prefix)
        self._add_script = client.register_script(_ADD_SCRIPT)

    def kind(self, name: str) -> ListKind:
        """The declared kind of list `name`; raises UnknownListError with a suggestion."""
        kind = self.lists.get(name)
        if kind is None:
            raise UnknownListError(f"list {name!r} is not declared in the policy{self._hint(name)}")
        return kind

    def _hint(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.lists, n=1)
        declared = ", ".join(sorted(self.lists)) or "none"
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        return f" (declared: {declared}){suggestion}"

    def normalise(self, name: str, entries: Iterable[str]) -> list[str]:
        """Entries in their stored form; raises ListEntryError naming the first bad one."""
        kind = self.kind(name)
        out = []
        for index, raw in enumerate(entries):
            try:
                out.append(normalise_entry(kind, raw))
            except ValueError as exc:
                raise ListEntryError(f"list {name!r} ({kind}): {exc}", index) from exc
        return out

    async def add(
        self,
        name: str,
        entries: Iterable[str],
        *,
        actor: str,
        expires_at: datetime | None = None,
        note: str | None = None,
    ) -> int:
        """Add (or re-add, replacing expiry and note) entries; returns how many were written.

        All entries, and the expiry (an aware time to come), are checked before any is written.
        """
        values = self.normalise(name, entries)
        expiry = None if expires_at is None else expiry_epoch(expires_at)
        meta = orjson.dumps(
            {"added_at": time.time(), "actor": actor, "note": note, "expires_at": expiry}
        )
        keys = [
            self.keys.list_entries(name),
            self.keys.list_expiry(name),
            self.keys.list_version(name),
            self.keys.list_names,
        ]
        head: list[Any] = [name, meta, "" if expiry is None else repr(expiry)]
        # Two chunks in flight: the client encodes one while the server applies the other.
        pending: asyncio.Future[Any] | None = None
        try:
            for start in range(0, len(values), CHUNK_SIZE):
                args = head + values[start : start + CHUNK_SIZE]
                call = asyncio.ensure_future(self._add_script(keys=keys, args=args))
                if pending is not None:
                    await pending
                pending = call
            if pending is not None:
                await pending
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
        logger.info("list %s: %s added %d entries", name, actor, len(values))
        return len(values)

    async def remove(self, name: str, entries: Iterable[str], *, actor: str) -> int:
        """Remove entries; returns how many were there."""
        values = self.normalise(name, entries)
        removed = 0
        for start in range(0, len(values), CHUNK_SIZE):
            chunk = values[start : start + CHUNK_SIZE]
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hdel(self.keys.list_entries(name), *chunk)
                pipe.zrem(self.keys.list_expiry(name), *chunk)
                pipe.incr(self.keys.list_version(name))
                removed += (await pipe.execute())[0]
        logger.info("list %s: %s removed %d entries", name, actor, removed)
        return removed

    async def purge_expired(self, name: str, *, now: float | None = None) -> int:
        """Delete the entries whose expiry has passed (workers ignore them already)."""
        cutoff = time.time() if now is None else now
        expired: list[Any] = await self.client.zrangebyscore(
            self.keys.list_expiry(name), "-inf", cutoff
        )
        if not expired:
            return 0
        return await self.remove(name, [decoded(e) for e in expired], actor="purge")

    async def count(self, name: str) -> int:
        """Entries stored, expired ones included until purged."""
        await self.check_known(name)
        return int(await self.client.hlen(self.keys.list_entries(name)))

    async def show(self, name: str, limit: int = 100) -> list[ListEntry]:
        """Up to `limit` entries, sorted by value (a sample of a large list, not its start)."""
        await self.check_known(name)
        key = self.keys.list_entries(name)
        found: dict[str, bytes | str] = {}
        cursor = 0
        while len(found) < limit:
            cursor, page = await self.client.hscan(key, cursor, count=min(limit, CHUNK_SIZE))
            pairs = cast(dict[bytes | str, bytes | str], page).items()
            found.update((decoded(value), meta) for value, meta in pairs)
            if cursor == 0:
                break
        rows = sorted(found.items())[:limit]
        return [_entry(value, orjson.loads(meta)) for value, meta in rows]

    async def check_known(self, name: str) -> None:
        """Raises UnknownListError unless `name` is declared or has held entries (a list an
        earlier policy declared can still be read)."""
        check_list_name(name)
        if name not in self.lists and not await self.client.sismember(self.keys.list_names, name):
            raise UnknownListError(f"there is no list {name!r}{self._hint(name)}")

    async def names(self) -> list[str]:
        """Names of the lists stored in Redis (declared or not)."""
        return sorted(decoded(n) for n in await self.client.smembers(self.keys.list_names))


def _entry(value: str, meta: dict[str, Any]) -> ListEntry:
    return ListEntry(value, meta["added_at"], meta["actor"], meta["note"], meta["expires_at"])
