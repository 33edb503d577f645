"""Hot reload across workers, measured on `riskscore serve --workers 2` as users run it: after a
publish (policy) or an admin model reload (the model pointer), every worker reports the new
version in `/metrics` (`riskscore_*_info{pid, version}`) within a generous bound. How fast the
switch is on this machine is printed (`pytest -s`); docs/api.md states the target."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from feature_store import keys
from feature_store.redis_server import RedisServer
from load_tests.stack import Served, serving
from model.manifest import MANIFEST_FILE
from service.settings import DEFAULT_MODEL_DIR, DEFAULT_POLICY_FILE
from tests.service.conftest import (
    PATIENT_FEATURE_TIMEOUT_MS,
    api_keys,
    auth,
    stream_entries,
    transaction,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

WORKERS = 2
INFO = re.compile(r'^(riskscore_(?:policy|model)_info)\{pid="(\d+)",version="([^"]+)"\} (\S+)$')


@pytest.fixture(scope="module")
def artifacts_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the service may reload models from (`RISKSCORE_MODEL_ARTIFACTS_ROOT`)."""
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, artifacts_root: Path
) -> Iterator[tuple[Served, RedisServer]]:
    env = {
        "RISKSCORE_API_KEYS": json.dumps([key.model_dump() for key in api_keys()]),
        "RISKSCORE_FEATURE_TIMEOUT_MS": str(PATIENT_FEATURE_TIMEOUT_MS),
        "RISKSCORE_MODEL_ARTIFACTS_ROOT": str(artifacts_root),
    }
    with RedisServer() as redis_server:
        arguments = ["--workers", str(WORKERS), "--redis-url", redis_server.url]
        with serving(tmp_path_factory.mktemp("serve"), arguments, env) as served:
            yield served, redis_server


def serving_versions(served: Served, metric: str) -> dict[str, str]:
    """pid -> the version each worker serves, from the merged `/metrics`."""
    text = httpx.get(f"{served.url}/metrics", timeout=10.0).text
    versions = {}
    for line in text.splitlines():
        found = INFO.match(line)
        if found and found[1] == metric and float(found[4]) == 1.0:
            versions[found[2]] = found[3]
    return versions


def _all_workers_on(served: Served, metric: str, version: str) -> bool:
    versions = serving_versions(served, metric)
    return len(versions) == WORKERS and set(versions.values()) == {version}


def test_publish_switches_every_worker_to_the_new_policy(
    stack: tuple[Served, RedisServer], namespace: str
) -> None:
    served, _ = stack
    wait_until(lambda: len(serving_versions(served, "riskscore_policy_info")) == WORKERS, "up")
    before = set(serving_versions(served, "riskscore_policy_info").values())
    text = DEFAULT_POLICY_FILE.read_text() + "\n# hot reload test " + namespace + "\n"
    with httpx.Client(base_url=served.url, timeout=10.0) as http:
        published = http.post(
            "/v1/admin/policy/publish", json={"text": text}, headers=auth("admin")
        )
        assert published.status_code == 200, published.text
        version = published.json()["version"]
        assert version not in before
        took = wait_until(
            lambda: _all_workers_on(served, "riskscore_policy_info", version),
            f"every worker serves policy {version}",
        )
        print(f"policy {version}: every worker switched {took:.2f} s after the publish")
        for number in range(2 * WORKERS):  # whichever worker answers decides with it
            reply = http.post(
                "/v1/score", json=transaction(namespace, number), headers=auth("score")
            )
            assert reply.json()["policy_version"] == version


def test_model_reload_switches_every_worker_through_the_pointer(
    stack: tuple[Served, RedisServer], artifacts_root: Path, namespace: str
) -> None:
    served, redis_server = stack
    artifact = Path(shutil.copytree(DEFAULT_MODEL_DIR, artifacts_root / f"model-{namespace}"))
    manifest = json.loads((artifact / MANIFEST_FILE).read_text())
    version = f"{manifest['model_version']}-{namespace.rstrip('-')}"
    manifest["model_version"] = version  # the manifest is not among its own checksummed files
    (artifact / MANIFEST_FILE).write_text(json.dumps(manifest))
    wait_until(lambda: len(serving_versions(served, "riskscore_model_info")) == WORKERS, "up")
    with httpx.Client(base_url=served.url, timeout=30.0) as http:
        reloaded = http.post(
            "/v1/admin/model/reload", json={"model_dir": str(artifact)}, headers=auth("admin")
        )
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["version"] == version
        took = wait_until(
            lambda: _all_workers_on(served, "riskscore_model_info", version),
            f"every worker serves model {version}",
        )
        print(f"model {version}: every worker switched {took:.2f} s after the reload")
        for number in range(2 * WORKERS):
            reply = http.post(
                "/v1/score", json=transaction(namespace, number), headers=auth("score")
            )
            assert reply.json()["model_version"] == version
    control = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        assert control.get(keys.MODEL_POINTER) == str(artifact.resolve())
    finally:
        control.close()
    audit = stream_entries(redis_server.url, keys.AUDIT_STREAM)
    reloads = [f for f in audit if f["action"] == "model.reload" and f.get("version") == version]
    assert len(reloads) == 1
    assert reloads[0]["actor"] == "test-admin"
    assert reloads[0]["model_dir"] == str(artifact)
