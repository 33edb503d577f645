"""What rules need of the block and allow lists: membership, and one normal form per kind.

`list("name")` in an expression calls `ListLookup.contains` at decision time. The Redis-backed
lookup (`policy.lists`) and the in-memory one (`policy.static_lists`) normalise alike.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Protocol


class ListKind(StrEnum):
    """What a list holds; each kind has one normal form for its entries and looked-up values."""

    CARD_ID = "card_id"
    BIN = "bin"
    EMAIL_DOMAIN = "email_domain"
    IP = "ip"
    DEVICE_ID = "device_id"
    MERCHANT_ID = "merchant_id"
    CUSTOMER_ID = "customer_id"


class ListLookup(Protocol):
    """Membership in the policy's named lists; must be fast and must not raise."""

    def contains(self, list_name: str, value: str) -> bool: ...


_BIN = re.compile(r"^[0-9]{6,8}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{1,63}$")


def normalise_value(kind: ListKind, value: str) -> str:
    """The form a looked-up value is compared in: trimmed, e-mail domains in lower case."""
    value = value.strip()
    return value.lower() if kind is ListKind.EMAIL_DOMAIN else value


def entry_problem(kind: ListKind, entry: str) -> str | None:
    """Why `entry` cannot be on a list of `kind`, or None when it can."""
    entry = normalise_value(kind, entry)
    if not entry:
        return "an entry is empty"
    if kind is ListKind.BIN and not _BIN.match(entry):
        return f"{entry!r} is not a BIN (6 to 8 digits)"
    if kind is ListKind.EMAIL_DOMAIN and not _DOMAIN.match(entry):
        return f"{entry!r} is not an e-mail domain (like example.com)"
    if kind is ListKind.IP:
        try:
            ipaddress.ip_network(entry, strict=True)
        except ValueError as exc:
            return f"{entry!r} is not an IP address or CIDR range: {exc}"
    return None
