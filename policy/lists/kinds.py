"""What a list holds (`ListKind`), what rules need of lists (`ListLookup`), and the one written
form of an entry of each kind: checked and normalised here for the policy file's inline lists
and for the admin store alike, so that a lookup compares like with like.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from enum import StrEnum
from typing import Protocol

from history.card_numbers import looks_like_card_number
from policy.lists.errors import UnknownListError


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
    """Membership in the policy's named lists; must be fast and must not raise.

    `list("name")` in a rule's expression calls `contains` at decision time.
    """

    def contains(self, list_name: str, value: str) -> bool: ...


_BIN = re.compile(r"^[0-9]{6,8}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{1,63}$")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_IDENTIFIER = re.compile(r"[!-~]{1,256}")  # printable ASCII, no spaces


def normalise_value(kind: ListKind, value: str) -> str:
    """The form a looked-up value is compared in: trimmed, e-mail domains in lower case."""
    value = value.strip()
    return value.lower() if kind is ListKind.EMAIL_DOMAIN else value


def entry_problem(kind: ListKind, entry: str) -> str | None:
    """Why `entry` cannot be on a list of `kind` by its shape, or None when it can."""
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


def normalise_entry(kind: ListKind, raw: str) -> str:
    """The stored form of an entry of a list of `kind` (the form lookups compare values
    with); raises ValueError saying what is wrong."""
    return _NORMALISERS.get(kind, _id_entry)(kind, normalise_value(kind, raw))


def check_list_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UnknownListError(f"{name!r} is not a list name: letters, digits, _ . - (max 64)")
    return name


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
