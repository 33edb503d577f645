"""An in-memory `ListLookup` over fixed entries: the policy file's inline lists, for tests and
backtests. The service uses the Redis-backed lookup of `policy.lists`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping

from policy.lists_protocol import ListKind, normalise_value

_V4_MAPPED = 0xFFFF << 32  # ::ffff:a.b.c.d is the IPv4 address a.b.c.d


class _Networks:
    """IP addresses and CIDR ranges as integer prefixes: one set per prefix length and family."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.tables: dict[tuple[int, int], set[int]] = {}  # (version, prefix length) -> prefixes
        for entry in entries:
            network = ipaddress.ip_network(entry)
            shift = network.max_prefixlen - network.prefixlen
            key = (network.version, network.prefixlen)
            self.tables.setdefault(key, set()).add(int(network.network_address) >> shift)

    def __contains__(self, value: str) -> bool:
        parsed = _parse(value)
        if parsed is None:
            return False
        version, address = parsed
        width = 32 if version == 4 else 128
        return any(
            (address >> (width - length)) in prefixes
            for (family, length), prefixes in self.tables.items()
            if family == version
        )


def _parse(value: str) -> tuple[int, int] | None:
    """(IP version, address as an integer), or None when `value` is not an address."""
    text = value.strip()
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    try:
        address = int.from_bytes(socket.inet_pton(socket.AF_INET6, text.split("%")[0]), "big")
    except OSError:
        return None
    if address >> 32 == _V4_MAPPED >> 32:
        return 4, address & 0xFFFFFFFF
    return 6, address


class StaticLists:
    """Membership in lists given up front; IP lists match single addresses and CIDR ranges.

    lists = StaticLists({"risky_bins": (ListKind.BIN, ["411111"])})
    lists.contains("risky_bins", "411111")  # True
    """

    def __init__(self, lists: Mapping[str, tuple[ListKind, Iterable[str]]]) -> None:
        self._kinds: dict[str, ListKind] = {}
        self._entries: dict[str, frozenset[str] | _Networks] = {}
        for name, (kind, entries) in lists.items():
            values = [normalise_value(kind, entry) for entry in entries]
            self._kinds[name] = kind
            self._entries[name] = _Networks(values) if kind is ListKind.IP else frozenset(values)

    def contains(self, list_name: str, value: str) -> bool:
        kind = self._kinds.get(list_name)
        if kind is None:
            return False
        return normalise_value(kind, value) in self._entries[list_name]
