"""Materialization speed, and Redis memory per entity after it.

    .venv/bin/python benchmarks/bench_materialize.py [--transactions 1000000] [--days 60]

Loads the end state of a simulated history into a private redis-server (or $REDIS_URL, into
which it writes keys of the simulated ids) and reports entity writes per second and the mean
`MEMORY USAGE` of each kind of key.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from collections import defaultdict

import redis
from redis.asyncio import Redis

from feature_store.materialize import MaterializeReport, materialize
from feature_store.redis_server import RedisServer
from history.io import normalise
from history.simulator import SimulationConfig, simulate

SAMPLED_KEYS = 20_000


async def _load(url: str, history: object) -> MaterializeReport:
    client = Redis.from_url(url)
    try:
        return await materialize(client, history)  # type: ignore[arg-type]
    finally:
        await client.aclose()


def _memory(url: str) -> None:
    client = redis.Redis.from_url(url)
    sizes: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(client.scan_iter(match="rs:v1:*", count=2_000)):
        if index >= SAMPLED_KEYS:
            break
        text = key.decode()
        kind = text.split("{", 1)[1].split(":", 1)[0]
        rest = text.split("}", 1)[1]  # ":a", ":s:<attribute>:<window>", ":t:<id>" or ""
        suffix = rest.split(":")[1] if rest else "marker"
        sizes[f"{kind} {suffix}"].append(int(client.memory_usage(key) or 0))
    print(f"  used_memory {client.info('memory')['used_memory_human']}, keys {client.dbsize():,}")
    print("  mean MEMORY USAGE by key kind (a = entity state, s = seen set, t = dedup marker):")
    for name, values in sorted(sizes.items()):
        print(f"    {name:<14} {statistics.mean(values):7.0f} B  ({len(values)} sampled)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    config = SimulationConfig(transactions=args.transactions, days=args.days, seed=5)
    history = normalise(simulate(config), source="simulated")
    url = os.environ.get("REDIS_URL")
    server = None if url else RedisServer().start()
    try:
        target = url or server.url  # type: ignore[union-attr]
        report = asyncio.run(_load(target, history))
        total = sum(report.entities.values())
        print(
            f"materialize {len(history):,} transactions: {total:,} entities in "
            f"{report.seconds:.1f} s = {report.entities_per_second:,.0f} entity writes/s"
        )
        print("  entities: " + ", ".join(f"{k} {v:,}" for k, v in report.entities.items()))
        _memory(target)
    finally:
        if server is not None:
            server.close()


if __name__ == "__main__":
    main()
