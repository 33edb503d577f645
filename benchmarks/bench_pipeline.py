"""The whole score path in process, without HTTP: p50/p99 per transaction, and each stage.

    .venv/bin/python benchmarks/bench_pipeline.py [--calls 20000]

Scores simulated transactions one after another with the default model and policy against a
private redis-server (or $REDIS_URL), through the same `Scorer` the service runs, and reports
the time of each stage as the decision records (what the recorder stores) give it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from dataclasses import asdict
from typing import Any

import numpy as np

from feature_store.online import OnlineStore
from feature_store.redis_server import RedisServer
from feature_store.resp import RespClient
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from model.artifact import load_model
from policy.decision import NO_LISTS
from policy.loader import load_policy
from scoring.decisions import DecisionStore
from scoring.pipeline import Scorer
from scoring.results import ScoreInput
from service.settings import DEFAULT_MODEL_DIR, DEFAULT_POLICY_FILE

ATTRIBUTES = (
    "card_id", "card_bin", "card_country", "merchant_id", "merchant_mcc", "merchant_country",
    "customer_id", "email_domain", "customer_account_age_days", "device_id", "ip", "ip_country",
    "channel", "billing_country", "shipping_country", "currency", "amount",
)  # fmt: skip


def inputs(calls: int) -> list[ScoreInput]:
    config = SimulationConfig(transactions=calls, days=30, seed=11)
    # About `calls` rows: fraud comes in whole episodes, so a few more may come back.
    history = normalise(simulate(config), source="simulated").head(calls)
    run = uuid.uuid4().hex[:8]
    out = []
    for row in history.itertuples(index=False):
        attributes: dict[str, Any] = {}
        for name in ATTRIBUTES:
            value = getattr(row, name)
            attributes[name] = None if value is None or value != value else value
        ts_ms = int(row.timestamp.timestamp() * 1000)
        txn_id = f"bench-{run}-{row.transaction_id}"
        out.append(ScoreInput(txn_id, ts_ms, float(row.amount), row.currency, attributes, txn_id))
    return out


async def run(url: str, requests: list[ScoreInput]) -> None:
    client = RespClient.from_url(url)
    scorer = Scorer(
        OnlineStore(client, timeout_ms=50),
        DecisionStore(client, ttl_seconds=600, timeout_ms=50),
        NO_LISTS,
    )
    scorer.model = load_model(DEFAULT_MODEL_DIR)
    scorer.policy = load_policy(DEFAULT_POLICY_FILE)
    for request in requests[:1000]:  # warm-up
        await scorer.score(request)
    latencies = []
    records = []
    cpu_start = time.process_time()
    for request in requests[1000:]:
        started = time.perf_counter()
        result = await scorer.score(request)
        latencies.append((time.perf_counter() - started) * 1e6)
        records.append(result.record)
    cpu = (time.process_time() - cpu_start) / len(latencies) * 1e6
    stages: dict[str, list[int]] = {}
    for record in records[-2000:]:  # the records the score path hands to the recorder
        assert record is not None
        for stage, value in asdict(record.timings).items():
            stages.setdefault(stage.removesuffix("_us"), []).append(value)
    await client.aclose()
    report(np.array(latencies), cpu, stages)


def report(latencies: np.ndarray[Any, Any], cpu: float, stages: dict[str, list[int]]) -> None:
    print(f"Scorer.score, {len(latencies)} sequential transactions (default model and policy)")
    for q in (50, 90, 99):
        print(f"  p{q} {np.percentile(latencies, q):7.0f} us")
    print(f"  process CPU per call {cpu:7.0f} us")
    print("  stages (median of the last 2000 decision records):")
    for stage, values in stages.items():
        print(f"    {stage:<13} {statistics.median(values):6.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    requests = inputs(args.calls + 1000)
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(run(url, requests))
        return
    with RedisServer() as server:
        asyncio.run(run(server.url, requests))


if __name__ == "__main__":
    main()
