"""Common point of compromise: what reading every merchant a card used in 30 days would cost the
store call (docs/features.md, "Common point of compromise").

    .venv/bin/python benchmarks/bench_cpoc.py [--transactions 300000] [--days 60]

Simulates a history, counts the distinct merchants each card used in the 30 days before each of
its transactions, materializes the history into a private redis-server, then times a second
script call that reads and decodes that many merchant states (p50 and p99 of the count), as a
common-point-of-compromise feature would need after the card's own call.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np
import redis
from redis.asyncio import Redis

from feature_store import keys
from feature_store.aggregates import ENTITIES_BY_NAME
from feature_store.materialize import materialize
from feature_store.redis_server import RedisServer
from feature_store.resp import RespClient
from history.io import normalise
from history.simulator import SimulationConfig, simulate

DAY_MS = 86_400_000
READ_STATES = """
local total = 0
for i = 1, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw then
    local state = cmsgpack.unpack(raw)
    total = total + #state.M
  end
end
return total
"""


def _distinct_merchants_30d(cards: list[str], merchants: list[str], ts: list[int]) -> list[int]:
    """For each transaction (grouped by card, in time order), the card's distinct merchants in
    the 30 days before it."""
    out: list[int] = []
    held: dict[str, int] = {}
    left = 0
    for i, card in enumerate(cards):
        if i == 0 or card != cards[i - 1]:
            held, left = {}, i
        while ts[left] < ts[i] - 30 * DAY_MS:
            gone = merchants[left]
            held[gone] -= 1
            if not held[gone]:
                del held[gone]
            left += 1
        out.append(len(held))
        held[merchants[i]] = held.get(merchants[i], 0) + 1
    return out


async def _second_call_us(url: str, merchant_keys: list[str], count: int, calls: int) -> float:
    client = RespClient.from_url(url)
    sha = redis.Redis.from_url(url).script_load(READ_STATES)
    latencies = []
    for i in range(calls):
        chosen = [merchant_keys[(i + j) % len(merchant_keys)] for j in range(count)]
        started = time.perf_counter()
        await client.execute_command("EVALSHA", sha, len(chosen), *chosen)
        latencies.append((time.perf_counter() - started) * 1e6)
    await client.aclose()
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--calls", type=int, default=3_000)
    args = parser.parse_args()
    config = SimulationConfig(transactions=args.transactions, days=args.days, seed=1)
    history = normalise(simulate(config), source="simulated")
    frame = history.sort_values(["card_id", "timestamp"], kind="stable")
    ts = frame["timestamp"].to_numpy(dtype="datetime64[ms]").astype(np.int64).tolist()
    counts = np.array(
        _distinct_merchants_30d(frame["card_id"].tolist(), frame["merchant_id"].tolist(), ts)
    )
    times = np.array(ts)
    late = counts[times >= times.min() + 30 * DAY_MS]  # a full 30 days of history behind them
    p50, p99 = int(np.percentile(late, 50)), int(np.percentile(late, 99))
    print(f"distinct merchants of the card in the 30 d before a transaction ({len(late):,} rows)")
    print(f"  mean {late.mean():.1f}  p50 {p50}  p90 {np.percentile(late, 90):.0f}  p99 {p99}")
    merchant = ENTITIES_BY_NAME["merchant"]
    ids = history["merchant_id"].dropna().unique().tolist()
    with RedisServer() as server:
        client = Redis.from_url(server.url)
        asyncio.run(materialize(client, history))
        merchant_keys = [keys.state_key(merchant, str(m)) for m in ids]
        stats = redis.Redis.from_url(server.url)
        for count in sorted({1, max(p50, 1), max(p99, 1)}):
            stats.config_resetstat()
            wall = asyncio.run(_second_call_us(server.url, merchant_keys, count, args.calls))
            server_us = stats.info("commandstats")["cmdstat_evalsha"]["usec_per_call"]
            print(
                f"second call reading {count:3d} merchant states: p50 {wall:6.0f} us round trip,"
                f" {server_us:6.0f} us server"
            )


if __name__ == "__main__":
    main()
