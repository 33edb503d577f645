"""Block and allow lists: entries managed at run time in Redis (`ListStore`), checked on the score
path against an in-memory snapshot that each worker keeps fresh (`ListSnapshot`).

admin (CLI, API) -> ListStore -> Redis hash + version counter per list -> ListSnapshot polls the
counters and reloads changed lists -> `contains(list_name, value)`, with no network round trip.
"""

from __future__ import annotations

import asyncio
import difflib
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from feature_store.keys import PREFIX
from feature_store.loops import cancel_requested
from history.card_numbers import looks_like_card_number
from policy.keys import PolicyKeys
from policy.lists_protocol import ListKind, entry_problem, normalise_value

logger = logging.getLogger(__name__)

CHUNK_SIZE = 10_000  # entries per write transaction and per HSCAN call
NEVER = float("inf")  # expiry of an entry without one
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_IDENTIFIER = re.compile(r"[!-~]{1,256}")  # printable ASCII, no spaces


class ListError(Exception):
    """Base of the list errors.

    ListError
     ├── UnknownListError   the list is not declared in the policy
     └── ListEntryError     an entry is not valid for its list's kind (`index` says which)
    """


class UnknownListError(ListError):
    pass


class ListEntryError(ListError):
    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def normalise_entry(kind: ListKind, raw: str) -> str:
    """The stored form of an entry of a list of `kind` (the form `contains` looks values up
    in); raises ValueError saying what is wrong."""
    return _NORMALISERS.get(kind, _id_entry)(kind, normalise_value(kind, raw))


def _checked(kind: ListKind, value: str) -> str:
    problem = entry_problem(kind, value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _ip_entry(kind: ListKind, value: str) -> str:
    if _is_canonical_ipv4(value):
        return value  # the common case, without ipaddress (10 times slower)
    problem = entry_problem(kind, value)
    if problem is not None:
        raise ValueError(problem + _cidr_hint(value))
    return _canonical_ip(value)


def _domain_entry(kind: ListKind, value: str) -> str:
    if "@" in value:
        raise ValueError(f"{value!r} is an e-mail address: give the domain after '@'")
    return _checked(kind, value)


def _card_entry(kind: ListKind, value: str) -> str:
    if looks_like_card_number(value):
        raise ValueError(f"{value!r} looks like a card number: lists hold card tokens, never PANs")
    return _id_entry(kind, value)


def _id_entry(kind: ListKind, value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(f"{value!r} is not an id: 1 to 256 printable characters, no spaces")
    return value


_NORMALISERS = {
    ListKind.IP: _ip_entry,
    ListKind.EMAIL_DOMAIN: _domain_entry,
    ListKind.BIN: _checked,
    ListKind.CARD_ID: _card_entry,
}


def _is_canonical_ipv4(value: str) -> bool:
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, value)) == value
    except (OSError, UnicodeEncodeError):
        return False


def _cidr_hint(value: str) -> str:
    if "/" not in value:
        return ""
    try:
        return f"; did you mean {ipaddress.ip_network(value, strict=False)}?"
    except ValueError:
        return ""


def _canonical_ip(value: str) -> str:
    network = ipaddress.ip_network(value, strict=True)
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:  # ::ffff:a.b.c.d is the IPv4 address a.b.c.d
            network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def check_list_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UnknownListError(f"{name!r} is not a list name: letters, digits, _ . - (max 64)")
    return name


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
        self.keys = PolicyKeys(prefix)
        self._add_script = client.register_script(_ADD_SCRIPT)

    def kind(self, name: str) -> ListKind:
        """The declared kind of list `name`; raises UnknownListError with a suggestion."""
        kind = self.lists.get(name)
        if kind is None:
            close = difflib.get_close_matches(name, self.lists, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            declared = ", ".join(sorted(self.lists)) or "none"
            raise UnknownListError(
                f"list {name!r} is not declared in the policy (declared: {declared}){hint}"
            )
        return kind

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

        All entries are validated before any is written.
        """
        values = self.normalise(name, entries)
        expiry = None if expires_at is None else _epoch(expires_at)
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
        return await self.remove(name, [_text(e) for e in expired], actor="purge")

    async def count(self, name: str) -> int:
        """Entries stored, expired ones included until purged."""
        return int(await self.client.hlen(self.keys.list_entries(check_list_name(name))))

    async def show(self, name: str, limit: int = 100) -> list[ListEntry]:
        """Up to `limit` entries, sorted by value (a sample of a large list, not its start)."""
        key = self.keys.list_entries(check_list_name(name))
        found: dict[str, bytes | str] = {}
        cursor = 0
        while len(found) < limit:
            cursor, page = await self.client.hscan(key, cursor, count=min(limit, CHUNK_SIZE))
            pairs = cast(dict[bytes | str, bytes | str], page).items()
            found.update((_text(value), meta) for value, meta in pairs)
            if cursor == 0:
                break
        rows = sorted(found.items())[:limit]
        return [_entry(value, orjson.loads(meta)) for value, meta in rows]

    async def names(self) -> list[str]:
        """Names of the lists stored in Redis (declared or not)."""
        return sorted(_text(n) for n in await self.client.smembers(self.keys.list_names))


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError(f"expiry {moment.isoformat()} has no time zone: add Z or an offset")
    return moment.astimezone(UTC).timestamp()


def _entry(value: str, meta: dict[str, Any]) -> ListEntry:
    return ListEntry(value, meta["added_at"], meta["actor"], meta["note"], meta["expires_at"])


class _Members:
    """Exact matches: entry -> expires_at (NEVER when it does not expire)."""

    __slots__ = ("expiry",)

    def __init__(self) -> None:
        self.expiry: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self.expiry)

    def put(self, entries: Iterable[str], expires_at: float) -> None:
        self.expiry.update(dict.fromkeys(entries, expires_at))

    def contains(self, value: str) -> bool:
        expires_at = self.expiry.get(value.strip())
        return expires_at is not None and expires_at > time.time()


class _Domains(_Members):
    __slots__ = ()

    def contains(self, value: str) -> bool:
        expires_at = self.expiry.get(value.strip().lower())
        return expires_at is not None and expires_at > time.time()


# Per prefix length: (bits to shift an address right to get its network, network -> expiry).
_Prefixes = list[tuple[int, dict[int, float]]]


class _Networks:
    """IP addresses and CIDR ranges, grouped by prefix length: a check masks the address once
    per prefix length present and looks the network up in that length's table."""

    __slots__ = ("size", "tables", "v4", "v6")

    def __init__(self) -> None:
        self.tables: dict[tuple[int, int], dict[int, float]] = {}
        self.size = 0
        self.v4: _Prefixes = []
        self.v6: _Prefixes = []

    def __len__(self) -> int:
        return self.size

    def put(self, entries: Iterable[str], expires_at: float) -> None:
        for entry in entries:
            address, _, length = entry.partition("/")
            family, bits = (socket.AF_INET6, 128) if ":" in address else (socket.AF_INET, 32)
            shift = bits - (int(length) if length else bits)
            network = int.from_bytes(socket.inet_pton(family, address), "big") >> shift
            table = self.tables.setdefault((bits, shift), {})
            self.size += network not in table
            table[network] = expires_at
        self.v4 = sorted((s, t) for (b, s), t in self.tables.items() if b == 32)
        self.v6 = sorted((s, t) for (b, s), t in self.tables.items() if b == 128)

    def contains(self, value: str) -> bool:
        value = value.strip()
        try:
            if ":" in value:
                address = int.from_bytes(socket.inet_pton(socket.AF_INET6, value), "big")
                prefixes = self.v6
                if address >> 32 == 0xFFFF:  # ::ffff:a.b.c.d is the IPv4 address a.b.c.d
                    address, prefixes = address & 0xFFFFFFFF, self.v4
            else:
                address = int.from_bytes(socket.inet_pton(socket.AF_INET, value), "big")
                prefixes = self.v4
        except (OSError, UnicodeEncodeError):
            return False
        for shift, table in prefixes:
            expires_at = table.get(address >> shift)
            if expires_at is not None and expires_at > time.time():
                return True
        return False


_Table = _Members | _Networks
_TABLES: dict[ListKind, type[_Members] | type[_Networks]] = {
    ListKind.IP: _Networks,
    ListKind.EMAIL_DOMAIN: _Domains,
}


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
        self.keys = PolicyKeys(prefix)
        self.scan_count = scan_count
        self.lists = dict(lists)
        self._tables: dict[str, _Table] = {}
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

    async def _load(self, name: str) -> _Table:
        """A new table of the list, built page by page (the event loop runs between pages)."""
        entries_key = self.keys.list_entries(name)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zrange(self.keys.list_expiry(name), 0, -1, withscores=True)
            pipe.hscan(entries_key, 0, count=self.scan_count)
            expiring, (cursor, page) = await pipe.execute()
        expiry = {_text(entry): expires_at for entry, expires_at in expiring}
        table = _TABLES.get(self.lists[name], _Members)()
        _put(table, page, expiry)
        while cursor != 0:
            cursor, page = await self.client.hscan(entries_key, cursor, count=self.scan_count)
            _put(table, page, expiry)
        return table


def _put(table: _Table, page: Collection[bytes | str], expiry: Mapping[str, float]) -> None:
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


def _text(value: bytes | str) -> str:
    """Works with clients that decode responses and with those that do not."""
    return value.decode() if isinstance(value, bytes) else value
