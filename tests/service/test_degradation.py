"""Failures end to end: Redis stopped under a running service, and a model that cannot load."""

from __future__ import annotations

from pathlib import Path

import pytest

from feature_store.redis_server import RedisServer
from tests.service.conftest import (
    IMPATIENT_FEATURE_TIMEOUT_MS,
    RunningService,
    auth,
    settings_for,
    transaction,
    writes_paused,
)

pytestmark = pytest.mark.redis


def test_score_degrades_while_redis_is_down_and_recovers(namespace: str) -> None:
    with RedisServer() as server:
        # The patient budget: Redis refusing connections is "unavailable" at once, not a
        # timeout (the metric's kind says which); a stall of the machine cannot degrade.
        service = RunningService.start(settings_for(server.url))
        try:
            with service.client() as http:
                normal = http.post(
                    "/v1/score", json=transaction(namespace, 1), headers=auth("score")
                )
                assert normal.json()["degraded"] is False
                server.stop()
                down = http.post("/v1/score", json=transaction(namespace, 2), headers=auth("score"))
                assert down.status_code == 200, down.text
                body = down.json()
                assert body["degraded"] is True
                # The ordinary transaction scores below the default approve_below
                # (test_degraded_mode.py pins the decisions of degraded mode).
                assert body["decision"] == "approve"
                assert [r["code"] for r in body["reasons"]][-1] == "FEATURES_UNAVAILABLE"
                assert http.get("/readyz").status_code == 503
                metrics = http.get("/metrics").text
                assert 'riskscore_feature_store_errors_total{kind="unavailable"}' in metrics
                server.start()
                recovered = http.post(
                    "/v1/score", json=transaction(namespace, 3), headers=auth("score")
                )
                assert recovered.json()["degraded"] is False
        finally:
            service.stop()


def test_a_retry_during_a_redis_stall_keeps_the_first_decision(namespace: str) -> None:
    """The retry's feature call times out, so it cannot be told from a new transaction and
    gets a degraded decision; the decision stored for the id stays the first one.

    Two workers on one Redis: the first attempt on a patient one (a stall cannot degrade it),
    the retry on one whose 100 ms budget a paused Redis exceeds for sure."""
    with RedisServer() as server:
        patient = RunningService.start(settings_for(server.url))
        impatient = RunningService.start(
            settings_for(server.url, feature_timeout_ms=IMPATIENT_FEATURE_TIMEOUT_MS)
        )
        try:
            with patient.client() as http, impatient.client() as other:
                body = transaction(namespace, 1)
                first = http.post("/v1/score", json=body, headers=auth("score")).json()
                assert first["degraded"] is False
                with writes_paused(server.url):
                    retry = other.post("/v1/score", json=body, headers=auth("score"))
                assert retry.status_code == 200, retry.text
                assert retry.json()["degraded"] is True
                # Unpaused: the retry's write reaches Redis before this worker's next command.
                stored = other.get(f"/v1/decisions/{namespace}tx1", headers=auth("score"))
                assert stored.status_code == 200
                assert stored.json()["degraded"] is False
                assert stored.json()["score"] == first["score"]
                again = http.post("/v1/score", json=body, headers=auth("score")).json()
                assert again == {**first, "replayed": True}
        finally:
            impatient.stop()
            patient.stop()


def test_service_without_a_loadable_model_is_not_ready(tmp_path: Path, namespace: str) -> None:
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "manifest.json").write_text("{ not json")
    with RedisServer() as server:
        service = RunningService.start(settings_for(server.url, model_dir=broken))
        try:
            with service.client() as http:
                ready = http.get("/readyz")
                assert ready.status_code == 503
                assert ready.json()["checks"]["model"] == "not loaded"
                reply = http.post(
                    "/v1/score", json=transaction(namespace, 1), headers=auth("score")
                )
                assert reply.status_code == 503
                assert reply.headers["content-type"] == "application/problem+json"
        finally:
            service.stop()
