"""Online feature store: latency and client CPU of one read-and-update call (six entities),
with the lean RespClient and with redis-py, in the same run.

    .venv/bin/python benchmarks/bench_feature_store.py [--calls 20000]

Uses $REDIS_URL when set (keys under a random prefix), else a private redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

import redis
from redis.asyncio import Redis

from feature_store.definitions import FEATURES
from feature_store.online import OnlineStore, Transaction
from feature_store.redis_server import RedisServer
from feature_store.resp import RespClient

T0 = 1_767_225_600_000
CLIENTS = ("resp", "redis-py")


def _transactions(count: int, prefix: str) -> list[Transaction]:
    out = []
    for i in range(count):
        attributes = {
            "card_id": f"{prefix}card{i % 5000}",
            "customer_id": f"{prefix}cust{i % 4000}",
            "merchant_id": f"{prefix}m{i % 50}",
            "device_id": f"{prefix}dev{i % 6000}",
            "ip": f"{prefix}10.0.{i % 250}.{i % 200}",
            "card_bin": f"{prefix}4{i % 300:05d}",
            "ip_country": "US",
            "merchant_country": "US",
        }
        out.append(Transaction.build(f"{prefix}tx{i}", T0 + i * 50, 12.5, "USD", attributes))
    return out


async def _measure(url: str, calls: int, kind: str) -> None:
    client: Redis | RespClient = (
        Redis.from_url(url) if kind == "redis-py" else RespClient.from_url(url)
    )
    store = OnlineStore(client, timeout_ms=1000)
    txns = _transactions(calls + 1000, uuid.uuid4().hex[:8] + ":")
    for txn in txns[:1000]:  # warm up: script cache, connections, entity keys
        await store.read_and_update(txn)
    stats = redis.Redis.from_url(url)
    stats.config_resetstat()
    latencies, cpu_start = [], time.process_time()
    wall_start = time.perf_counter()
    for txn in txns[1000:]:
        started = time.perf_counter()
        aggregates = await store.read_and_update(txn)
        latencies.append((time.perf_counter() - started) * 1e6)
    wall = time.perf_counter() - wall_start
    cpu = (time.process_time() - cpu_start) / calls * 1e6
    inputs = {**txns[-1].attributes, **aggregates, "ts_ms": T0, "amount_cents": 1250}
    started = time.perf_counter()
    for _ in range(2000):
        [feature.one(inputs) for feature in FEATURES]
    vector_us = (time.perf_counter() - started) / 2000 * 1e6
    server_us = stats.info("commandstats")["cmdstat_evalsha"]["usec_per_call"]
    stats.close()
    await client.aclose()
    latencies.sort()
    print(f"read_and_update with {kind}, 6 entities, {calls} sequential calls against {url}")
    print(f"  p50 {statistics.median(latencies):7.0f} us")
    print(f"  p90 {latencies[int(0.90 * calls)]:7.0f} us")
    print(f"  p99 {latencies[int(0.99 * calls)]:7.0f} us")
    print(f"  client CPU per call {cpu:7.0f} us ({calls / wall:,.0f} calls/s)")
    print(f"  server time per call {server_us:6.0f} us (INFO commandstats, EVALSHA)")
    print(f"feature vector from aggregates: {vector_us:.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        for kind in CLIENTS:
            asyncio.run(_measure(url, args.calls, kind))
        return
    with RedisServer() as server:
        for kind in CLIENTS:
            asyncio.run(_measure(server.url, args.calls, kind))


if __name__ == "__main__":
    main()
