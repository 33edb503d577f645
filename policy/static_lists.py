"""An in-memory `ListLookup` over fixed entries: the policy file's inline lists, for tests and
backtests. The service uses the Redis-backed lookup of `policy.lists`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from policy.lists_protocol import ListKind, normalise_value

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class StaticLists:
    """Membership in lists given up front; IP lists match single addresses and CIDR ranges.

    lists = StaticLists({"risky_bins": (ListKind.BIN, ["411111"])})
    lists.contains("risky_bins", "411111")  # True
    """

    def __init__(self, lists: Mapping[str, tuple[ListKind, Iterable[str]]]) -> None:
        self._kinds: dict[str, ListKind] = {}
        self._entries: dict[str, frozenset[str]] = {}
        self._networks: dict[str, tuple[IPNetwork, ...]] = {}
        for name, (kind, entries) in lists.items():
            self._add(name, kind, entries)

    def _add(self, name: str, kind: ListKind, entries: Iterable[str]) -> None:
        self._kinds[name] = kind
        values = [normalise_value(kind, entry) for entry in entries]
        if kind is not ListKind.IP:
            self._entries[name] = frozenset(values)
            return
        networks = [ipaddress.ip_network(value) for value in values]
        # Single addresses go in a set, in the same text form a looked-up address takes.
        single = {str(n.network_address) for n in networks if n.num_addresses == 1}
        self._entries[name] = frozenset(single)
        self._networks[name] = tuple(n for n in networks if n.num_addresses > 1)

    def contains(self, list_name: str, value: str) -> bool:
        kind = self._kinds.get(list_name)
        if kind is None:
            return False
        if kind is not ListKind.IP:
            return normalise_value(kind, value) in self._entries[list_name]
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return False
        if str(address) in self._entries[list_name]:
            return True
        return any(address in network for network in self._networks[list_name])
