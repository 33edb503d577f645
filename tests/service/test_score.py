"""POST /v1/score and GET /v1/decisions end to end: real uvicorn, real HTTP, real Redis, the
default model and policy."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from feature_store.definitions import DECLARED_NAMES, FEATURE_SET_VERSION
from model.reasons import REASON_CODES
from service.record_schemas import RecordedDecision
from service.schemas import ScoreResponse
from tests.service.conftest import BACKENDS, Backend, RunningService, auth, recorded, transaction

# Every test once against a single Redis and once against a local Redis Cluster.
pytestmark = [
    pytest.mark.redis,
    pytest.mark.parametrize("service_backend", BACKENDS, indirect=True),
]
# The contract's fields, in its order (docs/api.md): a change here is a change of the API.
CONTRACT_FIELDS = (
    "transaction_id",
    "decision",
    "score",
    "reasons",
    "rules_matched",
    "model_version",
    "policy_version",
    "feature_set_version",
    "degraded",
    "replayed",
)


def test_score_answers_the_contract(http: httpx.Client, namespace: str) -> None:
    reply = http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert tuple(body) == tuple(ScoreResponse.model_fields) == CONTRACT_FIELDS
    ScoreResponse.model_validate(body)
    assert body["decision"] in ("approve", "review", "challenge", "decline")
    assert 0.0 <= body["score"] <= 1.0
    assert body["feature_set_version"] == FEATURE_SET_VERSION
    assert body["model_version"].startswith("rs-")
    assert body["policy_version"].startswith("pol-")
    assert body["degraded"] is False and body["replayed"] is False
    for reason in body["reasons"]:
        assert reason["code"] in REASON_CODES
        assert reason["source"] == str(REASON_CODES[reason["code"]].source)
    assert reply.headers["x-request-id"]


def test_score_retry_replays_the_decision_and_counts_once(
    http: httpx.Client, namespace: str
) -> None:
    body = transaction(namespace, 2)
    first = http.post("/v1/score", json=body, headers=auth("score")).json()
    # The same body with another key order and explicit nulls is the same body.
    reordered = dict(reversed(list(body.items())), billing_country=None)
    again = http.post("/v1/score", json=reordered, headers=auth("score"))
    assert again.status_code == 200, again.text
    assert again.json() == {**first, "replayed": True}
    later = http.post("/v1/score", json=transaction(namespace, 3), headers=auth("score"))
    stored = recorded(http, f"{namespace}tx3")
    assert later.status_code == 200
    assert stored["features"]["card_txn_count_1h"] == 1.0  # tx2 once, not twice


def test_score_same_id_with_another_body_is_409(http: httpx.Client, namespace: str) -> None:
    http.post("/v1/score", json=transaction(namespace, 4), headers=auth("score"))
    reply = http.post(
        "/v1/score", json=transaction(namespace, 4, amount=999.0), headers=auth("score")
    )
    assert reply.status_code == 409
    assert reply.headers["content-type"] == "application/problem+json"
    assert "transaction_id" in reply.json()["detail"]


def test_score_same_id_with_another_card_is_409_and_counts_once(
    http: httpx.Client, namespace: str
) -> None:
    body = transaction(namespace, 5)
    assert http.post("/v1/score", json=body, headers=auth("score")).status_code == 200
    other = transaction(namespace, 5, card={**body["card"], "id": f"{namespace}card2"})
    reply = http.post("/v1/score", json=other, headers=auth("score"))
    assert reply.status_code == 409, reply.text
    http.post("/v1/score", json=transaction(namespace, 6), headers=auth("score"))
    stored = recorded(http, f"{namespace}tx6")
    # tx5 counted once on the customer and the device, whichever card it came with.
    assert stored["features"]["customer_txn_count_24h"] == 1.0
    assert stored["features"]["device_txn_count_24h"] == 1.0


def test_score_concurrent_bodies_for_one_id_get_one_decision(
    service_backend: Backend, namespace: str
) -> None:
    first = transaction(namespace, 7)
    # Another card: on another slot than the first body's, as any other field would be.
    second = transaction(namespace, 7, card={**first["card"], "id": f"{namespace}card7"})
    bodies = [first, second] * 50

    async def run(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            return await asyncio.gather(
                *[client.post("/v1/score", json=b, headers=auth("score")) for b in bodies]
            )

    # A time budget no burst on a busy test machine exceeds: a degraded score (Redis over
    # budget) has no idempotency check to make.
    service = RunningService.start(service_backend.settings(feature_timeout_ms=5_000))
    try:
        replies = asyncio.run(run(service.url))
    finally:
        service.stop()
    statuses = [r.status_code for r in replies]
    assert set(statuses) <= {200, 409}, statuses
    decided = [body for body, r in zip(bodies, replies, strict=True) if r.status_code == 200]
    # Every 200 carries the one decision of the body that came first; the other body is 409
    # (a conflict). A retry of the first body may also be told it is still being scored
    # (409, retry shortly) when its first attempt takes long on a loaded machine.
    assert decided and all(body is decided[0] for body in decided)
    for body, reply in zip(bodies, replies, strict=True):
        if body is not decided[0]:
            assert reply.status_code == 409, reply.text
            assert reply.json()["title"] == "Transaction id reused with a different body"
        elif reply.status_code == 409:
            assert reply.json()["title"] == "Transaction is still being scored", reply.text
    assert len({r.json()["score"] for r in replies if r.status_code == 200}) == 1
    # Within that budget no Redis call of the burst failed (a failure would be degraded).
    assert not any(r.json()["degraded"] for r in replies if r.status_code == 200)


def test_decision_lookup_shows_what_the_decision_was_made_with(
    http: httpx.Client, namespace: str
) -> None:
    scored = http.post("/v1/score", json=transaction(namespace, 5), headers=auth("score")).json()
    early = http.get(f"/v1/decisions/{namespace}tx5", headers=auth("score")).json()
    assert early["decision"] == scored["decision"] and "fingerprint" not in early
    reply = recorded(http, f"{namespace}tx5")
    assert reply["recorded"] is True
    record = RecordedDecision.model_validate(reply)
    assert record.features is not None and record.timings_us is not None
    assert record.transaction is not None
    assert record.decision == scored["decision"] and record.score == scored["score"]
    assert list(record.features) == list(DECLARED_NAMES)
    assert record.features["amount_usd"] is not None and record.features["amount_usd"] > 0
    assert record.policy_version == scored["policy_version"]
    assert record.timings_us.features >= 0 and record.timings_us.model > 0
    assert record.transaction["card_id"] == f"{namespace}card"
    assert "fingerprint" not in reply
    assert set(reply) == set(RecordedDecision.model_fields)
    assert reply["replayed"] is False and record.degraded_cause is None
    assert record.labels == [] and record.label is None


def test_a_decision_below_the_review_band_gets_no_model_reasons_nor_attributions(
    http: httpx.Client, namespace: str
) -> None:
    """Below the default policy's review band no model reason would be true of the score: the
    answer has none and the record keeps no attributions. (Above it: the record keeps exact
    attributions and the features behind each reason, tests/scoring/test_record_codec.py.)"""
    body = transaction(namespace, 11, amount=4999.0, shipping_country="BR")
    scored = http.post("/v1/score", json=body, headers=auth("score")).json()
    assert scored["score"] < 0.1
    assert [r for r in scored["reasons"] if r["source"] == "model"] == []
    stored = recorded(http, f"{namespace}tx11")
    assert stored["recorded"] and stored["attributions"] == {}
    assert stored["features"]["amount_usd"] > 4000


def test_decision_lookup_of_an_unknown_transaction_is_404(
    http: httpx.Client, namespace: str
) -> None:
    reply = http.get(f"/v1/decisions/{namespace}nope", headers=auth("score"))
    assert reply.status_code == 404
    assert reply.json()["status"] == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"card": {"id": "4111111111111111"}}, "card.id"),
        ({"amount": -3}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"timestamp": "2026-11-23T10:00:00"}, "timestamp"),
        ({"channel": "fax"}, "channel"),
        ({"device": {"ip": "999.1.1.1"}}, "device.ip"),
        ({"card_number": "4111111111111111"}, "card_number"),
    ],
)
def test_score_invalid_body_is_422_naming_the_field(
    http: httpx.Client, namespace: str, change: dict[str, object], field: str
) -> None:
    body = transaction(namespace, 6)
    body.update(change)
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert field in [error["field"] for error in problem["errors"]]
    assert "4111111111111111" not in reply.text  # a card number is never echoed


def test_score_missing_field_is_422(http: httpx.Client, namespace: str) -> None:
    body = transaction(namespace, 7)
    del body["merchant"]
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "merchant"


def test_score_body_over_the_limit_is_413(http: httpx.Client, namespace: str) -> None:
    body = transaction(namespace, 8, merchant={"id": "m" * 100_000})
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == 413
    chunked = http.post(
        "/v1/score",
        content=iter([b"{" + b" " * 10_000, b" " * 10_000 + b"}"]),
        headers={**auth("score"), "content-type": "application/json"},
    )
    assert chunked.status_code == 413


def test_score_without_a_valid_key_is_401_and_without_scope_403(
    http: httpx.Client, namespace: str
) -> None:
    body = transaction(namespace, 9)
    assert http.post("/v1/score", json=body).status_code == 401
    wrong = http.post("/v1/score", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert http.post("/v1/score", json=body, headers=auth("feedback")).status_code == 403
    assert http.post("/v1/score", json=body, headers=auth("admin")).status_code == 403


def test_health_readiness_and_metrics(http: httpx.Client, namespace: str) -> None:
    http.post("/v1/score", json=transaction(namespace, 10), headers=auth("score"))
    assert http.get("/healthz").status_code == 200
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["redis"] == "ok"
    text = http.get("/metrics").text
    assert "riskscore_decisions_total{" in text
    latency = [line for line in text.splitlines() if "request_duration_seconds_bucket" in line]
    assert any('route="/v1/score"' in line and 'status="200"' in line for line in latency)
    assert "riskscore_model_info{" in text and "riskscore_policy_info{" in text


def test_openapi_documents_examples_and_errors(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    score = schema["paths"]["/v1/score"]["post"]
    assert {"401", "403", "409", "413", "422", "503"} <= set(score["responses"])
    request = schema["components"]["schemas"]["ScoreRequest"]
    assert request["examples"][0]["card"]["id"]
    assert "/v1/echo" not in schema["paths"]
