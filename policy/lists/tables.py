"""The in-memory tables a list lookup reads: exact entries, e-mail domains, and IP prefixes
(addresses and CIDR ranges). The worker snapshot (`policy.lists.snapshot`) fills them from
Redis; `StaticLists` fills them from the policy file's inline lists. Entries come in their
stored form (`policy.lists.kinds.normalise_entry`); each carries its expiry (epoch seconds).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping

from policy.lists.kinds import ListKind, normalise_entry

NEVER = float("inf")  # expiry of an entry without one


class EntryTable:
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


class DomainTable(EntryTable):
    """E-mail domains, looked up in any case."""

    __slots__ = ()

    def contains(self, value: str) -> bool:
        expires_at = self.expiry.get(value.strip().lower())
        return expires_at is not None and expires_at > time.time()


# Per prefix length: (bits to shift an address right to get its network, network -> expiry).
_Prefixes = list[tuple[int, dict[int, float]]]


class PrefixTable:
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
                text = value.partition("%")[0]  # fe80::1%eth0: the zone is no part of it
                address = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
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


Table = EntryTable | PrefixTable


def new_table(kind: ListKind) -> Table:
    """An empty table for a list of `kind`."""
    if kind is ListKind.IP:
        return PrefixTable()
    if kind is ListKind.EMAIL_DOMAIN:
        return DomainTable()
    return EntryTable()


class StaticLists:
    """A `ListLookup` over entries given up front, which never expire: the policy file's inline
    lists, and lists for tests and backtests.

    >>> lists = StaticLists({"risky_bins": (ListKind.BIN, ["411111"])})
    >>> lists.contains("risky_bins", "411111")
    True

    Entries are normalised like the admin store's; a bad one raises ValueError.
    """

    def __init__(self, lists: Mapping[str, tuple[ListKind, Iterable[str]]]) -> None:
        self._tables: dict[str, Table] = {}
        for name, (kind, entries) in lists.items():
            table = new_table(kind)
            table.put([normalise_entry(kind, entry) for entry in entries], NEVER)
            self._tables[name] = table

    def contains(self, list_name: str, value: str) -> bool:
        table = self._tables.get(list_name)
        return table is not None and table.contains(value)
