"""POST /v1/feedback end to end: labels are events in the record (PostgreSQL), update the
label features once while they hold, a reversal takes a fraud back out, and they are kept for
retraining."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from record.writer import DecisionWriter
from tests.record.records import record_body
from tests.service.conftest import EVENT_HOUR, auth, recorded, transaction

pytestmark = pytest.mark.redis


def _now(minus_seconds: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(seconds=minus_seconds)).isoformat()


def _label(namespace: str, number: int, label: str, **changes: str) -> dict[str, str]:
    return {"transaction_id": f"{namespace}tx{number}", "label": label, **changes}


def _send(http: httpx.Client, body: dict[str, str]) -> httpx.Response:
    return http.post("/v1/feedback", json=body, headers=auth("feedback"))


def test_feedback_chargeback_counts_on_the_card_once(http: httpx.Client, namespace: str) -> None:
    http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
    label = _label(namespace, 1, "chargeback", reported_at=_now(60))
    first = _send(http, label)  # scored moments ago: waits for the recorder, never a 404
    assert first.status_code == 200, first.text
    assert first.json()["counted"] is True and first.json()["new"] is True
    assert _send(http, label).json() == {**first.json(), "new": False, "counted": False}
    again = _send(http, {**label, "label": "confirmed_fraud", "reported_at": _now(30)})
    assert again.json()["counted"] is False and again.json()["new"] is True
    http.post("/v1/score", json=transaction(namespace, 45), headers=auth("score"))
    assert recorded(http, f"{namespace}tx45")["features"]["card_fraud_count_30d"] == 1.0
    history = recorded(http, f"{namespace}tx1")
    assert [event["kind"] for event in history["labels"]] == ["chargeback", "confirmed_fraud"]
    assert {event["source"] for event in history["labels"]} == {"feedback"}
    assert {event["reported_by"] for event in history["labels"]} == {"test-feedback"}


def test_a_reversal_takes_the_fraud_back_out(http: httpx.Client, namespace: str) -> None:
    http.post("/v1/score", json=transaction(namespace, 7), headers=auth("score"))
    assert _send(http, _label(namespace, 7, "chargeback", reported_at=_now(60))).json()["counted"]
    reversal = _send(http, _label(namespace, 7, "confirmed_legitimate", reported_at=_now(30)))
    assert reversal.status_code == 200, reversal.text
    assert reversal.json()["counted"] is True  # the fraud was taken back out
    again = _send(http, _label(namespace, 7, "confirmed_legitimate", reported_at=_now(10)))
    assert again.json()["counted"] is False  # nothing left to take out
    http.post("/v1/score", json=transaction(namespace, 46), headers=auth("score"))
    assert recorded(http, f"{namespace}tx46")["features"]["card_fraud_count_30d"] == 0.0
    stored = recorded(http, f"{namespace}tx7")
    assert stored["label"]["kind"] == "confirmed_legitimate"
    assert len(stored["labels"]) == 3


def test_reported_at_must_fit_the_timeline(http: httpx.Client, namespace: str) -> None:
    http.post("/v1/score", json=transaction(namespace, 8), headers=auth("score"))
    recorded(http, f"{namespace}tx8")
    before = (EVENT_HOUR - timedelta(days=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for reported_at in (before, future):
        reply = _send(http, _label(namespace, 8, "chargeback", reported_at=reported_at))
        assert reply.status_code == 422, reply.text
        assert reply.json()["errors"][0]["field"] == "reported_at"


def test_a_chargeback_months_later_is_accepted(
    http: httpx.Client, namespace: str, service_database_url: str
) -> None:
    """A transaction decided 90 days ago is in the record (not in Redis): its label counts."""
    decided = int((time.time() - 90 * 86_400) * 1000)
    body = record_body(f"{namespace}old", decided_at_ms=decided)

    async def write() -> None:
        async with await psycopg.AsyncConnection.connect(service_database_url) as connection:
            await DecisionWriter().write(connection, [body])

    asyncio.run(write())
    reply = _send(http, {"transaction_id": f"{namespace}old", "label": "chargeback"})
    assert reply.status_code == 200, reply.text
    stored = http.get(f"/v1/decisions/{namespace}old", headers=auth("score")).json()
    assert stored["recorded"] is True and stored["label"]["kind"] == "chargeback"


def test_feedback_for_an_unknown_transaction_is_404(http: httpx.Client, namespace: str) -> None:
    reply = _send(http, {"transaction_id": f"{namespace}never", "label": "chargeback"})
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"


def test_feedback_needs_its_scope_and_a_known_label(http: httpx.Client, namespace: str) -> None:
    label = {"transaction_id": f"{namespace}tx3", "label": "chargeback"}
    assert http.post("/v1/feedback", json=label, headers=auth("score")).status_code == 403
    bad = _send(http, {**label, "label": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "label"
