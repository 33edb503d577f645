"""POST /v1/feedback end to end: labels update the label features and are kept for retraining."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from feature_store import keys
from feature_store.redis_server import RedisServer
from history.io import load_history
from riskscore.cli import main
from tests.service.conftest import auth, stream_entries, transaction

pytestmark = pytest.mark.redis


def test_feedback_chargeback_counts_on_the_card_once(http: httpx.Client, namespace: str) -> None:
    http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
    label = {
        "transaction_id": f"{namespace}tx1",
        "label": "chargeback",
        "reported_at": "2026-11-23T10:30:00+01:00",
    }
    first = http.post("/v1/feedback", json=label, headers=auth("feedback"))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "transaction_id": f"{namespace}tx1",
        "label": "chargeback",
        "counted": True,
    }
    again = http.post(
        "/v1/feedback", json={**label, "label": "confirmed_fraud"}, headers=auth("feedback")
    )
    assert again.json()["counted"] is False
    http.post("/v1/score", json=transaction(namespace, 45), headers=auth("score"))
    stored = http.get(f"/v1/decisions/{namespace}tx45", headers=auth("score")).json()
    assert stored["features"]["card_fraud_count_30d"] == 1.0


def test_feedback_labels_are_kept_in_history_columns(
    http: httpx.Client, namespace: str, service_redis: RedisServer
) -> None:
    http.post("/v1/score", json=transaction(namespace, 2), headers=auth("score"))
    label = {"transaction_id": f"{namespace}tx2", "label": "confirmed_legitimate"}
    reply = http.post("/v1/feedback", json=label, headers=auth("feedback"))
    assert reply.json()["counted"] is False
    entries = stream_entries(service_redis.url, keys.LABEL_STREAM)
    kept = [fields for fields in entries if fields["transaction_id"] == f"{namespace}tx2"]
    assert len(kept) == 1
    assert kept[0]["is_fraud"] == "0"
    assert kept[0]["card_id"] == f"{namespace}card"
    assert kept[0]["label"] == "confirmed_legitimate"


def test_feedback_for_an_unknown_transaction_is_404(http: httpx.Client, namespace: str) -> None:
    label = {"transaction_id": f"{namespace}never", "label": "chargeback"}
    reply = http.post("/v1/feedback", json=label, headers=auth("feedback"))
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"


def test_feedback_needs_its_scope_and_a_known_label(http: httpx.Client, namespace: str) -> None:
    label = {"transaction_id": f"{namespace}tx3", "label": "chargeback"}
    assert http.post("/v1/feedback", json=label, headers=auth("score")).status_code == 403
    bad = http.post("/v1/feedback", json={**label, "label": "maybe"}, headers=auth("feedback"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "label"


def test_labels_export_writes_kept_labels_as_a_history(
    http: httpx.Client, namespace: str, service_redis: RedisServer, tmp_path: Path
) -> None:
    http.post("/v1/score", json=transaction(namespace, 4), headers=auth("score"))
    label = {"transaction_id": f"{namespace}tx4", "label": "confirmed_fraud"}
    http.post("/v1/feedback", json=label, headers=auth("feedback"))
    out = tmp_path / "labels.csv"
    assert main(["labels", "export", "--redis-url", service_redis.url, "--out", str(out)]) == 0
    history = load_history(out)
    row = history[history["transaction_id"] == f"{namespace}tx4"].iloc[0]
    assert row["is_fraud"] == 1
    assert row["card_id"] == f"{namespace}card"
    assert row["amount"] == 42.5
    assert row["label_timestamp"] >= row["timestamp"]
