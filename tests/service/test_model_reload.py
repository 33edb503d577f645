"""Loading a model, end to end over real HTTP: an admin reload is what `/metrics` and the log
report; reloads stay under the artifacts root; a corrupted model at start leaves the worker
running, not ready, with one error line naming the file."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from feature_store import keys
from feature_store.redis_server import RedisServer
from service.settings import DEFAULT_MODEL_DIR
from tests.service.conftest import RunningService, auth, serving, settings_for, transaction

pytestmark = pytest.mark.redis
RELOADED_VERSION = "rs-test-reloaded"
SWITCH_SECONDS = 1.0


def _artifact_copy(directory: Path, version: str) -> Path:
    """The default artifact under another version (the manifest's own bytes are not hashed)."""
    shutil.copytree(DEFAULT_MODEL_DIR, directory)
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model_version"] = version
    manifest_path.write_text(json.dumps(manifest))
    return directory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    return artifacts


@pytest.fixture
def rooted(root: Path) -> Iterator[tuple[RunningService, RedisServer]]:
    """A service whose reloads may load from `root`, on a Redis of its own."""
    with RedisServer() as server, serving(settings_for(server.url, model_artifacts_root=root)) as s:
        yield s, server


def _model_info(http: httpx.Client) -> dict[str, float]:
    """`riskscore_model_info` samples: version -> value."""
    samples = {}
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("riskscore_model_info{"):
            version = line.split('version="', 1)[1].split('"', 1)[0]
            samples[version] = float(line.rsplit(" ", 1)[1])
    return samples


def test_admin_reload_is_reported_by_metrics_and_logged(
    rooted: tuple[RunningService, RedisServer],
    root: Path,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, _ = rooted
    caplog.set_level(logging.INFO)
    new = _artifact_copy(root / RELOADED_VERSION, RELOADED_VERSION)
    with service.client() as http:
        before = http.get("/readyz").json()["checks"]["model"]
        assert _model_info(http) == {before: 1.0}
        reply = http.post(
            "/v1/admin/model/reload", json={"model_dir": RELOADED_VERSION}, headers=auth("admin")
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"version": RELOADED_VERSION, "model_dir": str(new.resolve())}
        assert _model_info(http) == {before: 0.0, RELOADED_VERSION: 1.0}
        scored = http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
        assert scored.json()["model_version"] == RELOADED_VERSION
    loaded = [r.getMessage() for r in caplog.records if r.name == "service.followers"]
    assert f"model {RELOADED_VERSION} loaded from {new.resolve()}" in loaded


@pytest.mark.parametrize(
    ("model_dir", "problem"),
    [
        ("a-file", "is not a directory"),
        ("name\x00with-nul", "NUL"),
        ("/", "outside the model artifacts root"),
        ("../outside", "outside the model artifacts root"),
        ("escape", "outside the model artifacts root"),  # a link out of the root
        ("leaky", "links outside the model artifacts root"),  # a file linking out
        ("absent", "does not exist"),
    ],
)
def test_reload_of_a_path_that_may_not_be_loaded_is_422_naming_model_dir(
    rooted: tuple[RunningService, RedisServer],
    root: Path,
    namespace: str,
    model_dir: str,
    problem: str,
) -> None:
    service, server = rooted
    (root / "a-file").write_text("not a folder")
    outside = _artifact_copy(root.parent / "outside", "rs-test-outside")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    leaky = _artifact_copy(root / "leaky", "rs-test-leaky")
    (leaky / "manifest.json").unlink()
    (leaky / "manifest.json").symlink_to(outside / "manifest.json")
    with service.client() as http:
        before = http.get("/readyz").json()["checks"]["model"]
        reply = http.post(
            "/v1/admin/model/reload", json={"model_dir": model_dir}, headers=auth("admin")
        )
        assert reply.status_code == 422, reply.text
        assert reply.headers["content-type"] == "application/problem+json"
        errors = reply.json()["errors"]
        assert [error["field"] for error in errors] == ["model_dir"]
        assert problem in errors[0]["message"]
        scored = http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
        assert scored.status_code == 200 and scored.json()["model_version"] == before
    assert redis.Redis.from_url(server.url).get(keys.MODEL_POINTER) is None


def test_a_published_model_outside_the_root_is_refused_once_and_kept_out(
    rooted: tuple[RunningService, RedisServer],
    root: Path,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another worker (or anyone with Redis) pointing every worker outside the root."""
    service, server = rooted
    outside = _artifact_copy(root.parent / "elsewhere", "rs-test-elsewhere")
    redis.Redis.from_url(server.url).set(keys.MODEL_POINTER, str(outside))
    time.sleep(SWITCH_SECONDS)
    with service.client() as http:
        scored = http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
        assert scored.json()["model_version"] != "rs-test-elsewhere"
    refusals = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and str(outside) in r.getMessage()
    ]
    assert len(refusals) == 1, refusals  # refused once, not every interval
    assert "outside the model artifacts root" in refusals[0]


def _corrupt_manifest_text(directory: Path) -> str:
    (directory / "manifest.json").write_text("{ not json")
    return "invalid JSON"


def _corrupt_manifest_bytes(directory: Path) -> str:
    (directory / "manifest.json").write_bytes(b"\xff\xfe{}")
    return "invalid JSON"


def _manifest_is_a_folder(directory: Path) -> str:
    (directory / "manifest.json").unlink()
    (directory / "manifest.json").mkdir()
    return "cannot read it"


def _corrupt_onnx(directory: Path) -> str:
    onnx = directory / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-16] + b"\x00" * 16)
    return "sha256 differs"


@pytest.mark.parametrize(
    "corrupt",
    [_corrupt_manifest_text, _corrupt_manifest_bytes, _manifest_is_a_folder, _corrupt_onnx],
)
def test_a_corrupted_model_at_start_leaves_the_worker_not_ready_with_one_error_line(
    tmp_path: Path,
    namespace: str,
    caplog: pytest.LogCaptureFixture,
    corrupt: Callable[[Path], str],
) -> None:
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model)
    reason = corrupt(model)
    with (
        RedisServer() as server,
        serving(settings_for(server.url, model_dir=model)) as service,
        service.client() as http,
    ):
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["model"] == "not loaded"
        reply = http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
        assert reply.status_code == 503
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert str(model) in errors[0] and reason in errors[0] and "not ready" in errors[0]
    assert "\n" not in errors[0]
