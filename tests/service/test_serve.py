"""`riskscore serve` as users run it: a real process with uvicorn workers, uvloop and httptools."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from feature_store.redis_server import RedisServer
from load_tests.stack import serving
from service.settings import DEVELOPMENT_API_KEY
from tests.service.conftest import api_keys, auth, transaction

pytestmark = pytest.mark.redis


def test_serve_with_two_workers_merges_metrics_and_stops_gracefully(
    namespace: str, tmp_path: Path
) -> None:
    keys = json.dumps([key.model_dump() for key in api_keys()])
    with RedisServer() as redis_server:
        env = {"RISKSCORE_API_KEYS": keys}
        arguments = ["--workers", "2", "--redis-url", redis_server.url]
        with serving(tmp_path, arguments, env) as served:
            with httpx.Client(base_url=served.url, timeout=10.0) as http:
                for number in range(20):
                    reply = http.post(
                        "/v1/score", json=transaction(namespace, number), headers=auth("score")
                    )
                    assert reply.status_code == 200, reply.text
                metrics = http.get("/metrics").text
            decisions = sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("riskscore_decisions_total{")
            )
            assert decisions == 20.0
            served.process.send_signal(signal.SIGTERM)
            assert served.process.wait(timeout=30) == 0
        log = served.output()
        assert '"route":"/v1/score"' in log
        assert f"{namespace}card" not in log and "203.0.113.7" not in log


def _recorded(url: str, transaction_id: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while True:
        body = httpx.get(f"{url}/v1/decisions/{transaction_id}", headers=headers).json()
        if body.get("recorded") or time.monotonic() > deadline:
            return body  # type: ignore[no-any-return]
        time.sleep(0.1)


def test_serve_without_redis_starts_the_embedded_default(namespace: str, tmp_path: Path) -> None:
    """What `make run` does: a private Redis, warmed, and the development key accepted."""
    with serving(tmp_path, ["--workers", "1", "--dev"]) as served:
        headers = {"Authorization": f"Bearer {DEVELOPMENT_API_KEY}"}
        body = transaction(namespace, 1)
        reply = httpx.post(f"{served.url}/v1/score", json=body, headers=headers)
        assert reply.status_code == 200, reply.text
        assert reply.json()["degraded"] is False
        # The private PostgreSQL records it; `make run` serves the whole loop.
        lookup = _recorded(served.url, f"{namespace}tx1", headers)
        assert lookup["recorded"] is True
    assert "warmed with" in served.output()
    assert "starting a private PostgreSQL" in served.output()


def test_serve_with_one_worker_stops_its_embedded_redis_on_sigterm(tmp_path: Path) -> None:
    with serving(tmp_path, ["--workers", "1", "--dev"]) as served:
        children = psutil.Process(served.process.pid).children(recursive=True)
        redis_servers = [child for child in children if "redis-server" in child.name()]
        assert len(redis_servers) == 1
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) == 0
    _, alive = psutil.wait_procs(redis_servers, timeout=10)
    assert alive == []


def _serve_refused(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RISKSCORE_")}
    command = [sys.executable, "-m", "riskscore.cli", "serve", "--redis-url", "redis://x:1"]
    return subprocess.run(
        [*command, *arguments],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_without_dev_and_without_keys_refuses_to_start() -> None:
    refused = _serve_refused({})
    assert refused.returncode == 2
    assert "RISKSCORE_API_KEYS is empty" in refused.stderr and "--dev" in refused.stderr


def test_serve_names_the_variable_and_what_is_valid_for_bad_settings() -> None:
    refused = _serve_refused({"RISKSCORE_FEATURE_TIMEOUT_MS": "-5"}, "--dev")
    assert refused.returncode == 2
    assert "RISKSCORE_FEATURE_TIMEOUT_MS: Input should be greater than 0" in refused.stderr
    assert "> 0 and <= 10000" in refused.stderr
    assert "pydantic.dev" not in refused.stderr and "http" not in refused.stderr
    unparsable = _serve_refused({"RISKSCORE_API_KEYS": "not json"})
    assert "RISKSCORE_API_KEYS: not valid JSON" in unparsable.stderr
