"""A worker's list snapshot against a real Redis: changes seen after a refresh, expiry, CIDR
ranges, propagation to several workers, Redis going away and a list of a million entries."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import pytest
from redis.asyncio import Redis

from feature_store.redis_server import RedisServer
from policy.lists.kinds import ListKind, ListLookup
from policy.lists.snapshot import ListSnapshot
from policy.lists.store import ListStore
from tests.policy.conftest import Run
from tests.policy.lists.test_store import LISTS

pytestmark = pytest.mark.redis
T = TypeVar("T")


def test_snapshot_is_a_list_lookup(redis_url: str) -> None:
    lookup: ListLookup = ListSnapshot(Redis.from_url(redis_url), LISTS)
    assert lookup.contains("blocked_ips", "10.0.0.1") is False


def test_list_add_and_remove_seen_after_refresh(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        snapshot = ListSnapshot(client, LISTS, prefix=prefix)
        assert await store.add("blocked_cards", ["tok_1", " tok_2 "], actor="alice") == 2
        assert not snapshot.contains("blocked_cards", "tok_1")
        assert sorted(await snapshot.refresh()) == sorted(LISTS)
        assert snapshot.contains("blocked_cards", "tok_1")
        assert snapshot.contains("blocked_cards", "tok_2")
        assert not snapshot.contains("blocked_cards", "tok_3")
        assert not snapshot.contains("no_such_list", "tok_1")
        assert await snapshot.refresh() == []  # nothing changed: nothing reloaded
        assert await store.remove("blocked_cards", ["tok_1", "tok_9"], actor="bob") == 1
        assert await snapshot.refresh() == ["blocked_cards"]
        assert not snapshot.contains("blocked_cards", "tok_1")
        assert snapshot.contains("blocked_cards", "tok_2")

    run(job)


def test_list_expired_entry_stops_matching_without_refresh(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        snapshot = ListSnapshot(client, LISTS, prefix=prefix)
        soon = datetime.now(UTC) + timedelta(seconds=0.5)
        await store.add("blocked_ips", ["198.51.100.0/24"], actor="a", expires_at=soon)
        await store.add("blocked_cards", ["tok_soon"], actor="a", expires_at=soon)
        await store.add("blocked_cards", ["tok_ever"], actor="a")
        await snapshot.refresh()
        assert snapshot.contains("blocked_ips", "198.51.100.9")
        assert snapshot.contains("blocked_cards", "tok_soon")
        await asyncio.sleep(0.6)
        assert not snapshot.contains("blocked_ips", "198.51.100.9")
        assert not snapshot.contains("blocked_cards", "tok_soon")
        assert snapshot.contains("blocked_cards", "tok_ever")
        # A fresh worker does not load what has expired; a purge deletes it from Redis.
        fresh = ListSnapshot(client, LISTS, prefix=prefix)
        await fresh.refresh()
        assert fresh.size("blocked_cards") == 1
        assert await store.purge_expired("blocked_cards") == 1
        assert await store.count("blocked_cards") == 1

    run(job)


def test_list_cidr_ranges_and_ipv6(run: Run, prefix: str) -> None:
    entries = [
        "10.0.0.0/8",
        "192.0.2.7",
        "2001:db8::/32",
        "2001:DB8:1:0::/48",
        "::ffff:203.0.113.5",
    ]

    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        await store.add("blocked_ips", entries, actor="a")
        snapshot = ListSnapshot(client, LISTS, prefix=prefix)
        await snapshot.refresh()
        hits = ["10.255.1.2", "192.0.2.7", "2001:db8:ffff::1", "2001:0DB8::0001", "::ffff:10.1.2.3"]
        hits.append("203.0.113.5")  # stored from its IPv4-mapped IPv6 form
        misses = ["11.0.0.1", "192.0.2.8", "2001:db9::1", "not an ip", "", "10.0.0.1/8"]
        assert [h for h in hits if not snapshot.contains("blocked_ips", h)] == []
        assert [m for m in misses if snapshot.contains("blocked_ips", m)] == []
        assert {e.value for e in await store.show("blocked_ips")} == {
            "10.0.0.0/8",
            "192.0.2.7",
            "2001:db8::/32",
            "2001:db8:1::/48",
            "203.0.113.5",
        }

    run(job)


def test_snapshot_declare_loads_new_lists_and_drops_old(run: Run, prefix: str) -> None:
    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        await store.add("blocked_cards", ["tok_1"], actor="a")
        await store.add("risky_bins", ["400000"], actor="a")
        snapshot = ListSnapshot(client, {"blocked_cards": ListKind.CARD_ID}, prefix=prefix)
        await snapshot.refresh()
        await snapshot.declare({"risky_bins": ListKind.BIN})
        assert snapshot.contains("risky_bins", "400000")
        assert not snapshot.contains("blocked_cards", "tok_1")

    run(job)


def test_two_workers_see_a_change_within_a_second(run: Run, prefix: str, redis_url: str) -> None:
    async def wait_until(condition: Callable[[], bool]) -> float:
        started = time.perf_counter()
        while not condition():
            await asyncio.sleep(0.01)
        return time.perf_counter() - started

    async def job(client: Redis) -> None:
        store = ListStore(client, LISTS, prefix=prefix)
        clients = [Redis.from_url(redis_url) for _ in range(2)]  # two workers
        workers = [ListSnapshot(c, LISTS, prefix=prefix) for c in clients]
        tasks = [asyncio.create_task(w.run_refresher(interval_seconds=0.25)) for w in workers]
        try:
            await asyncio.sleep(0.3)
            await store.add("blocked_ips", ["203.0.113.0/24"], actor="a")
            async with asyncio.timeout(1.0):
                for worker in workers:
                    await wait_until(partial(worker.contains, "blocked_ips", "203.0.113.9"))
            await store.remove("blocked_ips", ["203.0.113.0/24"], actor="a")
            async with asyncio.timeout(1.0):
                for worker in workers:
                    await wait_until(partial(lacks, worker, "blocked_ips", "203.0.113.9"))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in clients:
                await c.aclose()

    run(job)


def lacks(snapshot: ListSnapshot, list_name: str, value: str) -> bool:
    return not snapshot.contains(list_name, value)


def test_refresher_keeps_serving_when_redis_goes_away(namespace: str) -> None:
    async def job(server: RedisServer) -> None:
        client = Redis.from_url(server.url, socket_timeout=0.5)
        store = ListStore(client, LISTS)
        await store.add("blocked_cards", [f"{namespace}tok"], actor="a")
        snapshot = ListSnapshot(client, LISTS)
        await snapshot.refresh()
        task = asyncio.create_task(snapshot.run_refresher(interval_seconds=0.05))
        server.stop()
        await asyncio.sleep(0.3)
        assert not task.done()
        assert snapshot.contains("blocked_cards", f"{namespace}tok")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()

    with RedisServer() as server:
        asyncio.run(job(server))


def test_list_of_a_million_entries(run: Run, prefix: str) -> None:
    entries = [f"dev_{i:09d}" for i in range(1_000_000)]
    lists = {"devices": ListKind.DEVICE_ID}

    async def job(client: Redis) -> None:
        store = ListStore(client, lists, prefix=prefix)
        assert await store.add("devices", entries, actor="import") == 1_000_000
        snapshot = ListSnapshot(client, lists, prefix=prefix)
        await snapshot.refresh()
        assert snapshot.size("devices") == 1_000_000
        assert snapshot.contains("devices", "dev_000999999")
        assert not snapshot.contains("devices", "dev_001000000")
        await client.delete(store.keys.list_entries("devices"))  # a big key: free it now

    run(job)


# A refresher that does not stop keeps `asyncio.run` waiting: the timeout makes that a failure.
@pytest.mark.timeout(20)
def test_refresher_stops_when_a_redis_call_swallowed_its_cancellation(namespace: str) -> None:
    """redis-py can swallow a cancellation that lands mid-command (feature_store/loops.py);
    the loop must end anyway, or a worker's shutdown waits for it forever."""

    async def job(server: RedisServer) -> None:
        client = Redis.from_url(server.url)
        snapshot = ListSnapshot(client, LISTS)
        refresh = snapshot.refresh

        async def swallowing_refresh() -> list[str]:
            # Where the cancellation lands, and what redis-py may do with it:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0.05)
            return await refresh()

        snapshot.refresh = swallowing_refresh  # type: ignore[method-assign]
        task = asyncio.create_task(snapshot.run_refresher(interval_seconds=0.01))
        await asyncio.sleep(0.02)  # inside the first refresh
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2.0)
        assert done, "the refresher did not stop"
        await client.aclose()

    with RedisServer() as server:
        asyncio.run(job(server))
