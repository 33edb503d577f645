"""What a worker holds while it serves, wired together: Redis clients, stores, the scorer and
the followers that keep its model and policy in step with what was published.

startup -> connect -> the record (`runtime.record`: sink, pool, recorder) -> webhook
delivery (`runtime.delivery`)
-> model (a refused one leaves the worker not ready) -> policy (published in
Redis, else the file) -> lists -> follow every `reload_interval_ms` -> shutdown closes all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from feature_store.cluster import GatedCluster
from feature_store.loops import cancel_requested
from feature_store.online import Client, OnlineStore
from feature_store.resp import RespClient
from model.errors import ModelArtifactError
from policy.lists.snapshot import ListSnapshot
from policy.lists.store import ListStore
from policy.publishing.store import PolicyStore, PolicyStoreError
from scoring.decisions import DecisionStore
from scoring.pipeline import Scorer
from service.artifacts import ArtifactsRoot
from service.delivery import Delivery
from service.followers import ModelFollower, PolicyFollower
from service.metrics import Metrics
from service.recording import Recording
from service.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    metrics: Metrics
    admin_client: Redis | RedisCluster
    hot_client: Client
    scorer: Scorer
    lists: ListSnapshot
    policies: PolicyStore
    model_follower: ModelFollower
    policy_follower: PolicyFollower
    record: Recording
    delivery: Delivery
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics) -> Runtime:
        """Connect, load what to serve and start following what is published."""
        admin_client, hot_client = _connect(settings)
        if isinstance(hot_client, GatedCluster):
            await _discover(hot_client)
        # The policy and list keys share one hash slot, so a cluster client serves them too.
        control = cast(Redis, admin_client)
        lists = ListSnapshot(control, {})
        record = await Recording.start(settings, hot_client, admin_client)
        record.sink.on_dropped = metrics.records_dropped.inc
        scorer = _scorer(settings, metrics, hot_client, lists, record)
        policies = PolicyStore(control)
        artifacts = ArtifactsRoot.of(settings.artifacts_root(), settings.model_dir)
        runtime = cls(
            settings,
            metrics,
            admin_client,
            hot_client,
            scorer,
            lists,
            policies,
            ModelFollower(scorer, metrics, control, artifacts, settings.model_verify_key_file),
            PolicyFollower(scorer, metrics, lists, policies, settings.policy_file),
            record,
            Delivery.start(settings, metrics),
        )
        with contextlib.suppress(ModelArtifactError):  # logged; the worker is not ready
            runtime.model_follower.load(artifacts.configured)
        await runtime.policy_follower.load_first()
        runtime.tasks = [
            asyncio.create_task(lists.run_refresher(settings.reload_interval_ms / 1000)),
            asyncio.create_task(runtime._follow_published()),
        ]
        return runtime

    async def _follow_published(self) -> None:
        """Poll what is published (policy version, model directory) and switch to it."""
        interval = self.settings.reload_interval_ms / 1000
        while not cancel_requested():
            await asyncio.sleep(interval)
            for check in (self.policy_follower.check, self.model_follower.check):
                try:
                    await check()
                except (RedisError, OSError, PolicyStoreError) as exc:
                    logger.debug("reload check failed: %s", exc)

    def list_store(self) -> ListStore:
        """Admin access to the lists the serving policy declares."""
        policy = self.scorer.policy
        return ListStore(cast(Redis, self.admin_client), policy.list_kinds() if policy else {})

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.delivery.close()
        await self.record.close()
        if self.hot_client is not self.admin_client:
            await self.hot_client.aclose()
        await self.admin_client.aclose()


def _connect(settings: Settings) -> tuple[Redis | RedisCluster, Client]:
    """The admin client (redis-py) and the hot path's (the RESP client; one for a cluster)."""
    if settings.redis_url is None:
        raise RuntimeError(
            "no Redis URL: set RISKSCORE_REDIS_URL (riskscore serve starts an embedded "
            "Redis by itself when none is configured)"
        )
    if settings.redis_cluster:
        cluster = GatedCluster.from_url(settings.redis_url)  # bursts wait, nothing is resent
        return cluster, cluster
    return Redis.from_url(settings.redis_url), RespClient.from_url(settings.redis_url)


async def _discover(cluster: GatedCluster) -> None:
    """Learn the cluster's slot map before the first burst: commands that arrive together at
    a client that has not learnt it yet fail one another (its discovery closes connections
    the others are using). A cluster that is down now is found again on first use."""
    try:
        await cluster.initialize()
    except (RedisError, OSError) as exc:
        logger.warning("Redis Cluster not reachable at start (%s); scores degrade until it is", exc)


def _scorer(
    settings: Settings,
    metrics: Metrics,
    hot_client: Client,
    lists: ListSnapshot,
    record: Recording,
) -> Scorer:
    store = OnlineStore(
        hot_client,
        timeout_ms=settings.feature_timeout_ms,
        dedup_seconds=settings.decision_ttl_seconds,
    )
    decisions = DecisionStore(
        hot_client,
        ttl_seconds=settings.replay_ttl_seconds,
        timeout_ms=settings.feature_timeout_ms,
        sink=record.sink if settings.recording else None,
        archive=record.archived,
    )
    decisions.on_failure = metrics.decision_store_errors.inc
    return Scorer(store, decisions, lists)
