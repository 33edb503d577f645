"""The service's Redis Cluster client: redis-py's asyncio cluster client with a bound on the
commands in flight and no retries of its own.

redis-py keeps at most `max_connections` connections per node and fails a command at once
(`MaxConnectionsError`) when a burst wants more. Its pipeline takes that for a broken node: it
closes every connection of the client, in-flight commands of other requests among them (they
fail, some with an `AttributeError`), and sends its own commands again. Sending a claim
(`SET NX GET`) or an entity call again is not safe anyway: one whose reply was lost has been
applied, so the retry finds its own claim or counts the transaction twice. Here a burst waits
for the gate instead (each command or pipeline holds at most one connection per node, and at
most half of `max_connections` are in flight), and a failure is the caller's: the score path
degrades. A plain command that meets a connection failure still makes redis-py read the slot
map again before its next command, which is how the client finds a promoted replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

CONNECTIONS_PER_NODE = 128
# Set while a task holds the gate, and in the tasks it starts (redis-py runs a pipeline's
# nodes as tasks, and a redirected command inside it): they pass without a second permit.
_HOLDING: ContextVar[bool] = ContextVar("riskscore_cluster_gate_held", default=False)


class GatedCluster(RedisCluster):
    """`RedisCluster` whose commands and pipelines wait for a permit of `gate`.

    >>> client = GatedCluster.from_url("redis://redis-cluster:6379/0")
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_connections", CONNECTIONS_PER_NODE)
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Semaphore(max(1, int(kwargs["max_connections"]) // 2))

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with _passing(self.gate):
            return await super().execute_command(*args, **kwargs)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> Any:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused by redis-py
        # redis-py builds its ClusterPipeline so too (mypy sees an abstract attribute in it).
        return _GatedPipeline(self, transaction)  # type: ignore[abstract]


class _GatedPipeline(ClusterPipeline):
    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        client = self.cluster_client
        assert isinstance(client, GatedCluster)
        async with _passing(client.gate):
            return await super().execute(raise_on_error, allow_redirections)


@asynccontextmanager
async def _passing(gate: asyncio.Semaphore) -> AsyncIterator[None]:
    if _HOLDING.get():
        yield
        return
    async with gate:
        token = _HOLDING.set(True)
        try:
            yield
        finally:
            _HOLDING.reset(token)
