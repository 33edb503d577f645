"""What a worker serves, and the one way each changes: the model and the policy followers.

start -> `ModelFollower.load` / `PolicyFollower.load_first`; admin reload or publish -> Redis;
every `reload_interval_ms` -> `check` (what is published) -> the same load path. Each follower
remembers what it refused, so a bad version is not retried every interval.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from feature_store import keys
from model.artifact import Model, load_model
from model.errors import ModelArtifactError
from policy.decision import Policy
from policy.errors import PolicyError
from policy.lists.snapshot import ListSnapshot
from policy.loader import load_policy, parse_policy
from policy.publishing.store import PolicyStore
from scoring.pipeline import Scorer
from service.artifacts import ArtifactsRoot, ModelDirectoryError
from service.metrics import Metrics

logger = logging.getLogger(__name__)


class ModelFollower:
    """Loads the model at start, on an admin reload and when another worker published one.

    >>> models = ModelFollower(scorer, metrics, control, ArtifactsRoot.of(root, configured))
    >>> models.load(configured)  # at start; raises ModelArtifactError, logged once
    >>> await models.reload("rs-20260430-c8d0071b")  # admin: check, load, publish
    >>> await models.check()  # follow what another worker published
    """

    def __init__(
        self,
        scorer: Scorer,
        metrics: Metrics,
        control: Redis,
        artifacts: ArtifactsRoot,
        verify_key_file: Path | None = None,
    ) -> None:
        self.scorer = scorer
        self.metrics = metrics
        self.control = control
        self.artifacts = artifacts
        self.verify_key_file = verify_key_file  # set: only artifacts signed for it are served
        self.refused: set[Path] = set()  # published directories this worker refused

    def load(self, directory: Path) -> Model:
        """Load, verify and serve the artifact in `directory` (the one way a model changes).

        Raises `ModelArtifactError` naming the file and reason, logged as one error line;
        the model being served (if any) keeps serving.
        """
        try:
            model = _read(directory, self.verify_key_file)
        except ModelArtifactError as exc:
            serving = self.scorer.model
            keeps = f"{serving.version} keeps serving" if serving else "not ready"
            logger.error("model refused (%s): %s", keeps, exc)
            raise
        self.scorer.model = model
        self.refused.discard(directory)
        self.metrics.serving(self.metrics.model_info, model.version)
        logger.info("model %s loaded from %s", model.version, directory)
        return model

    async def reload(self, requested: str | None) -> Model:
        """An admin reload: `requested` (default: the configured model), checked against the
        artifacts root, loaded here, then published for every other worker.

        Raises `ModelDirectoryError` (the path) or `ModelArtifactError` (the artifact).
        """
        directory = self.artifacts.directory(requested)
        model = await asyncio.to_thread(self.load, directory)
        await self.control.set(keys.MODEL_POINTER, str(directory))
        return model

    async def check(self) -> None:
        """Switch to the published model when it is not the one served nor refused before."""
        published = await self.control.get(keys.MODEL_POINTER)
        if published is None:
            return
        directory = Path(os.fsdecode(published))
        serving = self.scorer.model
        if (serving and serving.directory == directory) or directory in self.refused:
            return
        try:
            self.artifacts.check(directory)
        except ModelDirectoryError as exc:
            self.refused.add(directory)
            logger.error("published model %s refused: %s", directory, exc)
            return
        try:
            await asyncio.to_thread(self.load, directory)
        except ModelArtifactError:  # logged by `load`
            self.refused.add(directory)


def _read(directory: Path, verify_key_file: Path | None) -> Model:
    """`load_model`, with any read failure it lets through named as the artifact's."""
    try:
        return load_model(directory, verify_key_file=verify_key_file)
    except (OSError, ValueError) as exc:  # e.g. a manifest that is a folder, or not UTF-8
        raise ModelArtifactError(f"{directory}: cannot be read: {exc}") from exc


class PolicyFollower:
    """Serves the published policy (else the file) and follows what is published next.

    >>> policies = PolicyFollower(scorer, metrics, lists, store, policy_file)
    >>> await policies.load_first()
    >>> await policies.check()  # every interval
    """

    def __init__(
        self,
        scorer: Scorer,
        metrics: Metrics,
        lists: ListSnapshot,
        store: PolicyStore,
        policy_file: Path,
    ) -> None:
        self.scorer = scorer
        self.metrics = metrics
        self.lists = lists
        self.store = store
        self.policy_file = policy_file
        self.refused: set[str] = set()  # published versions this worker refused

    async def use(self, policy: Policy) -> None:
        """Swap in a policy, its lists loaded first, so no request sees half of it."""
        await self.lists.declare(policy.list_kinds())
        self.scorer.policy = policy
        self.metrics.serving(self.metrics.policy_info, policy.version)
        logger.info("policy %s in service", policy.version)

    async def load_first(self) -> None:
        """The published policy when there is one (all workers agree), else the file."""
        try:
            current = await self.store.current()
        except (RedisError, OSError) as exc:
            logger.warning("cannot read the published policy (%s); using the file", exc)
            current = None
        try:
            if current is not None:
                version, text = current
                policy = parse_policy(text, f"published policy {version}")
            else:
                policy = load_policy(self.policy_file)
        except PolicyError as exc:
            logger.error("policy refused; not ready until a valid one is published: %s", exc)
            return
        await self.use(policy)

    async def check(self) -> None:
        """Switch to the published version when it is not the one served nor refused before."""
        current = await self.store.current()
        serving = self.scorer.policy.version if self.scorer.policy else None
        if current is None or current[0] == serving or current[0] in self.refused:
            return
        version, text = current
        try:
            policy = parse_policy(text, f"published policy {version}")
        except PolicyError as exc:
            self.refused.add(version)
            logger.error("published policy %s refused: %s", version, exc)
            return
        await self.use(policy)
