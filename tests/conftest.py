"""Shared fixtures: a real Redis for the session (private unless REDIS_URL is set), a
simulated history and a model artifact trained on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import redis

from feature_store.redis_server import RedisServer
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from training.pipeline import TrainingOptions, train_artifact


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """REDIS_URL when set (never flushed: tests keep to their own namespaced keys), else a
    private redis-server on a free port for the session."""
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def namespace() -> str:
    """A prefix for entity ids, so that no two tests, nor anyone else's data, share a key."""
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def simulated_history() -> pd.DataFrame:
    """A normalised simulated history with every typology, small enough to train in seconds."""
    config = SimulationConfig(transactions=40_000, days=45, seed=3, fraud_rate=0.02)
    return normalise(simulate(config), source="simulated")


@pytest.fixture(scope="session")
def trained_artifact(
    simulated_history: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A real model artifact, trained once for the session on `simulated_history`."""
    out = tmp_path_factory.mktemp("artifacts") / "model"
    train_artifact(simulated_history, out, TrainingOptions(gap_days=3))
    return out
