"""The lists' admin store against a real Redis: entries with their metadata, normal forms,
refusals that write nothing, names, and expiries that must lie in the future."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from policy.lists.errors import ListEntryError, ListExpiryError, UnknownListError
from policy.lists.kinds import ListKind
from policy.lists.snapshot import ListSnapshot
from policy.lists.store import ListStore
from tests.policy.conftest import Run

pytestmark = pytest.mark.redis

LISTS = {
    "blocked_ips": ListKind.IP,
    "blocked_cards": ListKind.CARD_ID,
    "risky_domains": ListKind.EMAIL_DOMAIN,
    "risky_bins": ListKind.BIN,
}


def test_list_entry_metadata_shown(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        expires = datetime(2031, 1, 2, tzinfo=UTC)
        await store.add("blocked_cards", ["tok_b", "tok_a"], actor="alice", note="case 7")
        await store.add("blocked_cards", ["tok_c"], actor="bob", expires_at=expires)
        assert await store.count("blocked_cards") == 3
        shown = await store.show("blocked_cards", limit=10)
        assert [e.value for e in shown] == ["tok_a", "tok_b", "tok_c"]
        assert (shown[0].actor, shown[0].note, shown[0].expires_at) == ("alice", "case 7", None)
        assert (shown[2].actor, shown[2].expires_at) == ("bob", expires.timestamp())
        assert len(await store.show("blocked_cards", limit=2)) == 2
        assert "blocked_cards" in await store.names()

    run(job)


def test_list_readding_without_expiry_makes_entry_permanent(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        soon = datetime.now(UTC) + timedelta(seconds=0.2)
        await store.add("blocked_cards", ["tok_x"], actor="a", expires_at=soon)
        await store.add("blocked_cards", ["tok_x"], actor="a")
        await asyncio.sleep(0.3)  # past the first expiry
        snapshot = ListSnapshot(client, LISTS, prefix=prefix)
        await snapshot.refresh()
        assert snapshot.contains("blocked_cards", "tok_x")

    run(job)


def test_list_email_domains_and_bins_normalised(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        await store.add("risky_domains", ["Mailinator.COM"], actor="a")
        await store.add("risky_bins", ["411111"], actor="a")
        snapshot = ListSnapshot(client, LISTS, prefix=prefix)
        await snapshot.refresh()
        assert snapshot.contains("risky_domains", "MAILINATOR.com")
        assert not snapshot.contains("risky_domains", "example.com")
        assert snapshot.contains("risky_bins", "411111")
        assert not snapshot.contains("risky_bins", "411112")

    run(job)


@pytest.mark.parametrize(
    ("name", "good", "bad", "message"),
    [
        ("blocked_cards", "tok_1", "4111 1111 1111 1111", "looks like a card number"),
        ("blocked_cards", "tok_1", "tok with space", "not an id"),
        ("blocked_ips", "10.0.0.1", "10.0.0.1/8", "did you mean 10.0.0.0/8?"),
        ("blocked_ips", "10.0.0.1", "10.0.0.300", "not an IP address"),
        ("risky_domains", "example.com", "someone@example.com", "give the domain after '@'"),
        ("risky_bins", "411111", "41111", "not a BIN"),
    ],
)
def test_list_refuses_bad_entries_and_writes_nothing(
    run: Run, prefix: str, name: str, good: str, bad: str, message: str
) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        with pytest.raises(ListEntryError, match=message) as caught:
            await store.add(name, [good, bad], actor="a")
        assert caught.value.index == 1
        assert await store.count(name) == 0

    run(job)


def test_list_unknown_name_suggests_declared_one(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        with pytest.raises(UnknownListError, match="did you mean 'blocked_ips'"):
            await store.add("blocked_ip", ["10.0.0.1"], actor="a")

    run(job)


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [
        (datetime.now(UTC) - timedelta(days=1), "is in the past"),
        (datetime(2031, 1, 1), "has no time zone"),
    ],
)
def test_list_refuses_an_expiry_that_is_not_to_come_and_writes_nothing(
    run: Run, prefix: str, expires_at: datetime, message: str
) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        with pytest.raises(ListExpiryError, match=message) as caught:
            await store.add("blocked_cards", ["tok_old"], actor="a", expires_at=expires_at)
        assert caught.value.field == "expires_at"
        assert await store.count("blocked_cards") == 0

    run(job)


def test_list_show_of_an_unknown_list_is_refused(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        with pytest.raises(UnknownListError, match="did you mean 'blocked_cards'"):
            await store.show("blocked_card")
        with pytest.raises(UnknownListError, match="no list 'nothing_here'"):
            await store.count("nothing_here")
        assert await store.show("blocked_cards") == []  # declared, empty: known
        # A list an earlier policy declared stays readable while it holds entries.
        await store.add("blocked_cards", ["tok_1"], actor="a")
        older = ListStore(client, {}, prefix=prefix)
        assert [e.value for e in await older.show("blocked_cards")] == ["tok_1"]

    run(job)
