"""Shared fixtures: a real Redis for the session (private unless REDIS_URL is set), a real
PostgreSQL (private unless RISKSCORE_TEST_DATABASE_URL names a server) with a fresh migrated
database per test or one for the service tests, a simulated history and a model trained on it;
and the check, at the session's end, that no server the suite started is left running."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import psutil
import psycopg
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from feature_store.redis_server import RedisServer
from history.io import normalise
from history.simulator import SimulationConfig, simulate
from record import feature_layouts, schema
from record.server import PostgresServer, create_database, database_url, drop_database
from scoring.record_codec import FEATURE_LAYOUT, FEATURE_ORDER
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


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A URL of the server's maintenance database: RISKSCORE_TEST_DATABASE_URL when set (the
    tests create and drop only their own databases on it), else a private server's."""
    configured = os.environ.get("RISKSCORE_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with PostgresServer(fsync=False) as server:
        yield server.admin_url


@pytest.fixture(scope="session")
def migrated_template(postgres_admin_url: str) -> Iterator[str]:
    """A database migrated to head once, copied for each test (CREATE DATABASE ... TEMPLATE),
    which knows this build's feature layout, as after a service or recorder of it ran."""
    name = f"riskscore_template_{uuid.uuid4().hex[:8]}"
    create_database(postgres_admin_url, name)
    url = database_url(postgres_admin_url, name)
    schema.upgrade(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(feature_layouts.REGISTER, (FEATURE_LAYOUT, list(FEATURE_ORDER)))
    yield name
    drop_database(postgres_admin_url, name)


@pytest.fixture
def make_database(postgres_admin_url: str) -> Iterator[Callable[..., str]]:
    """Hands out URLs of new, uniquely named databases (migrated when from `template`); drops
    them, and only them, at teardown."""
    made: list[str] = []

    def make(template: str | None = None) -> str:
        name = f"riskscore_test_{uuid.uuid4().hex[:10]}"
        create_database(postgres_admin_url, name, template=template)
        made.append(name)
        return database_url(postgres_admin_url, name)

    yield make
    for name in made:
        drop_database(postgres_admin_url, name)


@pytest.fixture
def record_url(make_database: Callable[..., str], migrated_template: str) -> str:
    """A fresh database at the newest schema."""
    return make_database(migrated_template)


@pytest.fixture(scope="session")
def service_database_url(
    postgres_admin_url: str, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database for every service the tests start (their transaction ids are
    namespaced), handed to `Settings` through the environment, with a spool folder."""
    name = f"riskscore_service_{uuid.uuid4().hex[:8]}"
    create_database(postgres_admin_url, name, template=migrated_template)
    url = database_url(postgres_admin_url, name)
    os.environ["RISKSCORE_DATABASE_URL"] = url
    os.environ["RISKSCORE_SPOOL_DIR"] = str(tmp_path_factory.mktemp("spool"))
    yield url
    os.environ.pop("RISKSCORE_DATABASE_URL", None)
    drop_database(postgres_admin_url, name)


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


# Every process the suite starts inherits this variable (`riskscore serve`, its workers) or
# works in a folder under this session's temporary folder (redis-server rewrites its environment
# for its process title, but runs in its `--dir`, made by `tempfile`). None may be alive when
# the session ends. Not a RISKSCORE_ variable: `load_tests.stack.serving` passes none on.
SESSION_VARIABLE = "RS_TEST_SESSION"
STOP_GRACE_SECONDS = 10.0


def pytest_sessionstart(session: pytest.Session) -> None:
    folder = tempfile.mkdtemp(prefix="riskscore-tests-")
    # Traversable by others: as root, the private PostgreSQL runs as `nobody` in a folder here.
    os.chmod(folder, 0o711)
    os.environ[SESSION_VARIABLE] = folder
    os.environ["TMPDIR"] = folder  # for the processes the tests start
    tempfile.tempdir = folder  # for this one


def _ours(process: psutil.Process, folder: str) -> bool:
    if process.status() == psutil.STATUS_ZOMBIE:
        return False
    if process.environ().get(SESSION_VARIABLE) == folder:
        return True
    return Path(process.cwd()).is_relative_to(folder)


def started_by_this_session() -> list[psutil.Process]:
    """Live processes, other than this one, that this session started."""
    folder = os.environ[SESSION_VARIABLE]
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if _ours(process, folder):
                found.append(process)
        except psutil.Error:  # gone meanwhile, or another user's
            continue
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session when a server it started outlives it (then stop that server)."""
    left = started_by_this_session()
    _, alive = psutil.wait_procs(left, timeout=STOP_GRACE_SECONDS) if left else ([], [])
    described = []
    for process in alive:
        try:
            described.append(f"pid {process.pid}: {' '.join(process.cmdline())[:200]}")
            process.kill()
        except psutil.Error:
            continue
    shutil.rmtree(os.environ[SESSION_VARIABLE], ignore_errors=True)
    if not described:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            "servers started by the tests were still running at the end (now killed):\n  "
            + "\n  ".join(described),
            red=True,
        )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
