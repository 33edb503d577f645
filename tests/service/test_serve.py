"""`riskscore serve` as users run it: a real process with uvicorn workers, uvloop and httptools."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
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


def test_serve_without_redis_starts_the_embedded_default(namespace: str, tmp_path: Path) -> None:
    """What `make run` does: a private Redis, warmed, and the development key accepted."""
    with serving(tmp_path, ["--workers", "1", "--dev"]) as served:
        headers = {"Authorization": f"Bearer {DEVELOPMENT_API_KEY}"}
        body = transaction(namespace, 1)
        reply = httpx.post(f"{served.url}/v1/score", json=body, headers=headers)
        assert reply.status_code == 200, reply.text
        assert reply.json()["degraded"] is False
    assert "warmed with" in served.output()
