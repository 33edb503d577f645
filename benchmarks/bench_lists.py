"""Block/allow lists at a million entries: import time, a worker's load time and memory, and
the cost of one `contains` on the score path.

    .venv/bin/python benchmarks/bench_lists.py [--entries 1000000] [--redis-url URL]

Without --redis-url a private redis-server is started. Keys go under a prefix of their own,
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable

from redis.asyncio import Redis

from feature_store.redis_server import RedisServer
from policy.lists.kinds import ListKind
from policy.lists.snapshot import ListSnapshot
from policy.lists.store import CHUNK_SIZE, ListStore

CONTAINS_CALLS = 1_000_000


def _entries(kind: ListKind, count: int) -> list[str]:
    if kind is ListKind.IP:
        # Mostly single addresses, some /24 and /16 ranges: several prefix lengths to check.
        out = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(count)]
        out[: count // 100] = [
            f"172.{i % 16 + 16}.{i // 16 % 256}.0/24" for i in range(count // 100)
        ]
        out[: count // 1000] = [f"100.{i % 64 + 64}.0.0/16" for i in range(count // 1000)]
        return list(dict.fromkeys(out))
    return [f"card_tok_{i:012d}" for i in range(count)]


def _ns_per_call(check: Callable[[str, str], bool], name: str, values: list[str]) -> float:
    started = time.perf_counter_ns()
    for value in values:
        check(name, value)
    return (time.perf_counter_ns() - started) / len(values)


async def _max_stall_ms(done: asyncio.Event) -> float:
    """The longest the event loop went without running this task, until `done`."""
    worst = 0.0
    while not done.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - before - 0.001)
    return worst * 1000


async def _bench(client: Redis, kind: ListKind, count: int, prefix: str, scan_count: int) -> None:
    lists = {"bench": kind}
    entries = _entries(kind, count)
    store = ListStore(client, lists, prefix=prefix)
    started = time.perf_counter()
    await store.add("bench", entries, actor="bench")
    imported = time.perf_counter() - started

    snapshot = ListSnapshot(client, lists, prefix=prefix, scan_count=scan_count)
    done = asyncio.Event()
    stall = asyncio.create_task(_max_stall_ms(done))
    started = time.perf_counter()
    await snapshot.refresh()
    loaded = time.perf_counter() - started
    done.set()
    stall_ms = await stall

    gc.collect()
    tracemalloc.start()  # a second load, traced (tracing makes it several times slower)
    await ListSnapshot(client, lists, prefix=prefix).refresh()
    memory_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()

    rng = random.Random(1)
    hits = [rng.choice(entries).split("/")[0] for _ in range(CONTAINS_CALLS)]
    misses = [f"192.0.2.{i % 256}" if kind is ListKind.IP else f"x{i}" for i in range(10_000)]
    misses = misses * (CONTAINS_CALLS // len(misses))
    hit_ns = _ns_per_call(snapshot.contains, "bench", hits)
    miss_ns = _ns_per_call(snapshot.contains, "bench", misses)
    bench_keys = (store.keys.list_entries, store.keys.list_expiry, store.keys.list_version)
    await client.delete(*(key("bench") for key in bench_keys), store.keys.list_names)
    print(
        f"{kind.value:<8} {snapshot.size('bench'):>9,} entries  import {imported:5.2f} s  "
        f"worker load {loaded:5.2f} s (longest event-loop stall {stall_ms:.0f} ms, "
        f"peak {memory_mb:.0f} MB)  "
        f"contains hit {hit_ns:4.0f} ns  miss {miss_ns:4.0f} ns"
    )


async def _main(url: str, count: int, scan_count: int) -> None:
    client = Redis.from_url(url)
    prefix = f"rs:bench:{uuid.uuid4().hex[:8]}"
    try:
        for kind in (ListKind.CARD_ID, ListKind.IP):
            await _bench(client, kind, count, prefix, scan_count)
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--scan-count", type=int, default=CHUNK_SIZE, help="entries per HSCAN")
    parser.add_argument("--redis-url", help="an existing Redis (default: a private one)")
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(_main(args.redis_url, args.entries, args.scan_count))
        return
    with RedisServer() as server:
        asyncio.run(_main(server.url, args.entries, args.scan_count))


if __name__ == "__main__":
    main()
