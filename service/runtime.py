"""What a worker holds while it serves: Redis clients, stores, the scorer, and the reloaders
that keep its model, policy and lists in step with what was published.

startup -> connect -> load model (a failure leaves the worker not ready) -> policy (published in
Redis, else the file) -> lists -> reloaders every `reload_interval_ms` -> shutdown closes all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from feature_store import keys
from feature_store.loops import cancel_requested
from feature_store.online import Client, OnlineStore
from feature_store.resp import RespClient
from model.artifact import Model, load_model
from model.errors import ModelArtifactError
from policy.decision import Policy
from policy.errors import PolicyError
from policy.lists.snapshot import ListSnapshot
from policy.lists.store import ListStore
from policy.loader import load_policy, parse_policy
from policy.publishing.store import PolicyStore
from scoring.decisions import DecisionStore
from scoring.pipeline import Scorer
from service.metrics import Metrics
from service.settings import Settings

logger = logging.getLogger(__name__)


class BatchTooLargeError(Exception):
    """An admin request carries more list entries than `max_list_entries_per_request`."""


@dataclass
class Runtime:
    settings: Settings
    metrics: Metrics
    admin_client: Redis | RedisCluster
    hot_client: Client
    scorer: Scorer
    policies: PolicyStore
    lists: ListSnapshot
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # published versions this worker refused

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics) -> Runtime:
        if settings.redis_url is None:
            raise RuntimeError(
                "no Redis URL: set RISKSCORE_REDIS_URL (riskscore serve starts an embedded "
                "Redis by itself when none is configured)"
            )
        admin_client: Redis | RedisCluster
        hot_client: Client
        if settings.redis_cluster:
            admin_client = RedisCluster.from_url(settings.redis_url)
            hot_client = admin_client
        else:
            admin_client = Redis.from_url(settings.redis_url)
            hot_client = RespClient.from_url(settings.redis_url)
        store = OnlineStore(
            hot_client,
            timeout_ms=settings.feature_timeout_ms,
            dedup_seconds=settings.decision_ttl_seconds,
        )
        decisions = DecisionStore(
            hot_client,
            ttl_seconds=settings.decision_ttl_seconds,
            timeout_ms=settings.feature_timeout_ms,
        )
        # The policy and list keys share one hash slot, so a cluster client serves them too.
        control = cast(Redis, admin_client)
        decisions.on_failure = metrics.decision_store_errors.inc
        lists = ListSnapshot(control, {})
        runtime = cls(
            settings,
            metrics,
            admin_client,
            hot_client,
            Scorer(store, decisions, lists),
            PolicyStore(control),
            lists,
        )
        runtime.load_model(settings.model_dir)
        await runtime.load_first_policy()
        runtime.tasks = [
            asyncio.create_task(lists.run_refresher(settings.reload_interval_ms / 1000)),
            asyncio.create_task(runtime._follow_published()),
        ]
        return runtime

    def load_model(self, directory: Path) -> Model | None:
        """Load and swap in a model; a refused artifact leaves the current one serving."""
        try:
            model = load_model(directory, verify_key_file=self.settings.model_verify_key_file)
        except ModelArtifactError as exc:
            logger.error("model refused, keeping %s: %s", self._model_version(), exc)
            return None
        self.scorer.model = model
        self.metrics.serving(self.metrics.model_info, model.version)
        logger.info("model %s loaded from %s", model.version, directory)
        return model

    async def use_policy(self, policy: Policy) -> None:
        """Swap in a policy, its lists loaded first, so no request sees half of it."""
        await self.lists.declare(policy.list_kinds())
        self.scorer.policy = policy
        self.metrics.serving(self.metrics.policy_info, policy.version)
        logger.info("policy %s in service", policy.version)

    async def load_first_policy(self) -> None:
        """The published policy when there is one (all workers agree), else the file."""
        try:
            current = await self.policies.current()
        except (RedisError, OSError) as exc:
            logger.warning("cannot read the published policy (%s); using the file", exc)
            current = None
        try:
            if current is not None:
                version, text = current
                policy = parse_policy(text, f"published policy {version}")
            else:
                policy = load_policy(self.settings.policy_file)
        except PolicyError as exc:
            logger.error("policy refused; not ready until a valid one is published: %s", exc)
            return
        await self.use_policy(policy)

    async def _follow_published(self) -> None:
        """Poll what is published (policy version, model directory) and switch to it."""
        interval = self.settings.reload_interval_ms / 1000
        while not cancel_requested():
            await asyncio.sleep(interval)
            try:
                await self._check_published()
            except (RedisError, OSError) as exc:
                logger.debug("reload check failed: %s", exc)

    async def _check_published(self) -> None:
        current = await self.policies.current()
        serving = self.scorer.policy.version if self.scorer.policy else None
        # What was refused once is not tried again every interval, only when it changes.
        if current is not None and current[0] != serving and current[0] not in self.refused:
            try:
                await self.use_policy(parse_policy(current[1], f"published policy {current[0]}"))
            except PolicyError as exc:
                self.refused.add(current[0])
                logger.error("published policy %s refused: %s", current[0], exc)
        published_model = await self.admin_client.get(keys.MODEL_POINTER)
        if published_model is not None:
            directory = Path(os.fsdecode(published_model)).resolve()
            model = self.scorer.model
            stale = model is None or model.directory.resolve() != directory
            if stale and str(directory) not in self.refused:
                loaded = await asyncio.to_thread(self.load_model, directory)
                if loaded is None:
                    self.refused.add(str(directory))

    def list_store(self) -> ListStore:
        """Admin access to the lists the serving policy declares."""
        policy = self.scorer.policy
        return ListStore(cast(Redis, self.admin_client), policy.list_kinds() if policy else {})

    def check_batch(self, entries: int) -> None:
        limit = self.settings.max_list_entries_per_request
        if entries > limit:
            raise BatchTooLargeError(
                f"entries: {entries} in one request; at most {limit} (import larger lists with "
                "`riskscore lists import`)"
            )

    def _model_version(self) -> str:
        return self.scorer.model.version if self.scorer.model else "no model"

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.hot_client is not self.admin_client:
            await self.hot_client.aclose()
        await self.admin_client.aclose()
