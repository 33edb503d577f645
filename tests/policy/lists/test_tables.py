"""The in-memory list lookup: exact entries, CIDR ranges, e-mail domains in any case."""

from __future__ import annotations

import pytest

from policy.lists.kinds import ListKind
from policy.lists.tables import StaticLists

LISTS = StaticLists(
    {
        "ips": (ListKind.IP, ["10.1.0.0/16", "198.51.100.7", "2001:db8::/32"]),
        "domains": (ListKind.EMAIL_DOMAIN, ["Mailinator.com"]),
        "bins": (ListKind.BIN, ["411111"]),
    }
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.1.200.3", True),
        ("10.2.0.1", False),
        ("198.51.100.7", True),
        ("198.51.100.8", False),
        ("::ffff:10.1.0.9", True),
        ("2001:db8:1::5", True),
        ("2001:db9::1", False),
        ("not an ip", False),
        ("", False),
    ],
)
def test_static_lists_ip_matches_addresses_and_ranges(value: str, expected: bool) -> None:
    assert LISTS.contains("ips", value) is expected


def test_static_lists_email_domain_ignores_case_and_other_lists_are_exact() -> None:
    assert LISTS.contains("domains", "MAILINATOR.COM")
    assert LISTS.contains("bins", "411111") and not LISTS.contains("bins", "41111")


def test_static_lists_unknown_list_holds_nothing() -> None:
    assert not LISTS.contains("nope", "411111")


def test_static_lists_store_entries_in_the_admin_stores_form() -> None:
    """One table and one entry form for static and live lists: an IPv4-mapped entry is its
    IPv4 address, a link-local address matches with its zone, a PAN is refused."""
    lists = StaticLists({"ips": (ListKind.IP, ["::ffff:203.0.113.5", "fe80::1"])})
    assert lists.contains("ips", "203.0.113.5")
    assert lists.contains("ips", "::ffff:203.0.113.5")
    assert lists.contains("ips", "fe80::1%eth0")
    with pytest.raises(ValueError, match="looks like a card number"):
        StaticLists({"cards": (ListKind.CARD_ID, ["4111111111111111"])})
