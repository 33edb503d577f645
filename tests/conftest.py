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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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


def write_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """A fresh Ed25519 release key pair as the PEM files openssl writes: (private, public)."""
    key = Ed25519PrivateKey.generate()
    private = directory / f"{name}.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = directory / f"{name}.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
