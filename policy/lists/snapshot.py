"""What a worker holds of the lists: one in-memory table per declared list, read on the score
path with no network round trip, and refreshed from Redis when a list's version changes.

`policy.lists.store.ListStore` bumps a list's version -> `ListSnapshot.run_refresher` polls
every version in one round trip -> reloads the changed lists page by page -> `contains`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable, Mapping
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from feature_store.keys import PREFIX
from feature_store.loops import cancel_requested
from policy.lists.keys import ListKeys, decoded
from policy.lists.kinds import ListKind
from policy.lists.store import CHUNK_SIZE
from policy.lists.tables import NEVER, Table, new_table

logger = logging.getLogger(__name__)


class ListSnapshot:
    """A worker's in-memory view of the declared lists (`lists`: name -> kind).

    >>> snapshot = ListSnapshot(client, {"blocked_ips": ListKind.IP})
    >>> await snapshot.refresh()                     # load before serving
    >>> task = asyncio.create_task(snapshot.run_refresher())
    >>> snapshot.contains("blocked_ips", "203.0.113.7")

    `contains` reads memory only; expired entries stop matching at once. `run_refresher` polls
    every list's version counter in one round trip and reloads only the lists that changed, in
    chunks, yielding to the event loop between them so that scoring goes on during a reload.
    """

    def __init__(
        self,
        client: Redis,
        lists: Mapping[str, ListKind],
        *,
        prefix: str = PREFIX,
        scan_count: int = CHUNK_SIZE,
    ) -> None:
        self.client = client
        self.keys = ListKeys(prefix)
        self.scan_count = scan_count
        self.lists = dict(lists)
        self._tables: dict[str, Table] = {}
        self._versions: dict[str, bytes | str | None] = {}
        self._failing = False

    def contains(self, list_name: str, value: str) -> bool:
        """Whether `value` is an unexpired entry of `list_name` (False for an unknown list)."""
        table = self._tables.get(list_name)
        return table is not None and table.contains(value)

    def size(self, list_name: str) -> int:
        table = self._tables.get(list_name)
        return 0 if table is None else len(table)

    async def declare(self, lists: Mapping[str, ListKind]) -> None:
        """Switch to another policy's lists: loads the new ones before returning."""
        for name in list(self._tables):
            if lists.get(name) != self.lists.get(name):
                del self._tables[name]
                self._versions.pop(name, None)
        self.lists = dict(lists)
        await self.refresh()

    async def refresh(self) -> list[str]:
        """Reload the lists whose version changed since the last load; returns their names."""
        names = list(self.lists)
        if not names:
            return []
        versions = await self.client.mget([self.keys.list_version(n) for n in names])
        changed = [
            (name, version)
            for name, version in zip(names, versions, strict=True)
            if name not in self._tables or self._versions.get(name) != version
        ]
        for name, version in changed:
            self._tables[name] = await self._load(name)
            # The version read before the load: a change during the load is reloaded next time.
            self._versions[name] = version
        return [name for name, _ in changed]

    async def run_refresher(self, interval_seconds: float = 0.25) -> None:
        """Refresh until cancelled; a Redis failure keeps the last snapshot serving."""
        while not cancel_requested():
            try:
                reloaded = await self.refresh()
            except (RedisError, OSError) as exc:
                if not self._failing:
                    logger.warning("list refresh failed, serving the last snapshot: %s", exc)
                self._failing = True
            else:
                if self._failing:
                    logger.info("list refresh recovered")
                self._failing = False
                if reloaded:
                    logger.info("lists reloaded: %s", ", ".join(reloaded))
            await asyncio.sleep(interval_seconds)

    async def _load(self, name: str) -> Table:
        """A new table of the list, built page by page (the event loop runs between pages)."""
        entries_key = self.keys.list_entries(name)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zrange(self.keys.list_expiry(name), 0, -1, withscores=True)
            pipe.hscan(entries_key, 0, count=self.scan_count)
            expiring, (cursor, page) = await pipe.execute()
        expiry = {decoded(entry): expires_at for entry, expires_at in expiring}
        table = new_table(self.lists[name])
        _put(table, page, expiry)
        while cursor != 0:
            cursor, page = await self.client.hscan(entries_key, cursor, count=self.scan_count)
            _put(table, page, expiry)
        return table


def _put(table: Table, page: Collection[bytes | str], expiry: Mapping[str, float]) -> None:
    """Put a page of entries in `table`, leaving out those expired already."""
    if page and isinstance(next(iter(page)), bytes):
        entries: Iterable[str] = map(bytes.decode, cast(Collection[bytes], page))
    else:
        entries = cast(Collection[str], page)
    if not expiry:
        table.put(entries, NEVER)
        return
    now = time.time()
    for entry in entries:
        expires_at = expiry.get(entry, NEVER)
        if expires_at > now:
            table.put((entry,), expires_at)
