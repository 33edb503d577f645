"""The decision record's one serialised form: real records from the real score path (default
model and policy, a real Redis) written and read back, old layouts read, bad ones refused."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterator
from dataclasses import replace

import orjson
import pytest
from redis.exceptions import RedisError

from feature_store.definitions import DECLARED_NAMES, FEATURE_NAMES
from feature_store.online import OnlineStore
from feature_store.redis_server import RedisServer, free_port
from feature_store.resp import RespClient
from model.artifact import load_model
from policy.decision import NO_LISTS
from policy.loader import load_policy
from record.feature_layouts import layout_of
from scoring.decisions import DecisionStore
from scoring.errors import RecordFormatError
from scoring.pipeline import Scorer
from scoring.record_codec import (
    FEATURE_LAYOUT,
    FEATURE_ORDER,
    RECORD_VERSION,
    decode_document,
    decode_record,
    encode_record,
    encode_replay,
    record_document,
)
from scoring.results import DecisionRecord, Replay, ScoreInput, ScoreResult
from service.settings import DEFAULT_MODEL_DIR, DEFAULT_POLICY_FILE

pytestmark = pytest.mark.redis
ATTRIBUTES = {
    "card_id": "codec-card",
    "card_bin": "424242",
    "card_country": "FR",
    "merchant_id": "codec-merchant",
    "merchant_mcc": "5732",
    "merchant_country": "FR",
    "customer_id": None,
    "email_domain": "example.com",
    "customer_account_age_days": 420,
    "device_id": None,
    "ip": "203.0.113.7",
    "ip_country": "FR",
    "channel": "ecom",
    "billing_country": "FR",
    "shipping_country": "DE",
    "currency": "EUR",
    "amount": 129.9,
}


def _score(port: int, transaction_id: str, *, review_at: float | None = None) -> ScoreResult:
    """Score on the default model and policy; with `review_at`, that policy's review band
    moved (0 explains every decision)."""

    async def run() -> ScoreResult:
        client = RespClient(host="127.0.0.1", port=port, connect_timeout_seconds=0.05)
        scorer = Scorer(
            OnlineStore(client, timeout_ms=50),
            DecisionStore(client, ttl_seconds=60, timeout_ms=50),
            NO_LISTS,
        )
        scorer.model = load_model(DEFAULT_MODEL_DIR)
        policy = load_policy(DEFAULT_POLICY_FILE)
        if review_at is not None:
            policy = replace(policy, bands={**policy.bands, "review_at": review_at})
        scorer.policy = policy
        request = ScoreInput(
            transaction_id, 1_790_000_000_000, 129.9, "EUR", ATTRIBUTES, "fingerprint"
        )
        try:
            result = await scorer.score(request)
            # The stored decision leaves with the next command on the connection: once that
            # one is answered, the decision is in Redis (or, with no Redis, it failed).
            with contextlib.suppress(RedisError):
                await client.execute_command("PING")
            return result
        finally:
            await client.aclose()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture(scope="module")
def record(server: RedisServer) -> DecisionRecord:
    """A decision explained: its policy reviews from a score of 0."""
    record = _score(server.port, "codec-tx-1", review_at=0.0).record
    assert record is not None
    return record


@pytest.fixture(scope="module")
def unexplained(server: RedisServer) -> DecisionRecord:
    """A decision scored below the default policy's review band."""
    record = _score(server.port, "codec-tx-2").record
    assert record is not None and record.decision.score < 0.1
    return record


@pytest.fixture(scope="module")
def degraded() -> DecisionRecord:
    record = _score(free_port(), "codec-tx-degraded").record  # nothing listens: no features
    assert record is not None
    return record


def test_a_record_reads_back_as_written(record: DecisionRecord) -> None:
    again = decode_record(encode_record(record))
    assert encode_record(again) == encode_record(record)
    assert again.request == record.request
    assert again.decision == record.decision
    assert again.timings == record.timings
    assert list(again.features) == list(DECLARED_NAMES)  # the model's first, then rules' own
    assert list(again.attribution_of()) == list(FEATURE_NAMES)
    assert again.attributions == record.attributions and len(again.attributions) > 0
    assert (again.margin, again.decided_at_ms) == (record.margin, record.decided_at_ms)


def test_a_record_keeps_the_contributions_behind_each_model_reason(
    record: DecisionRecord,
) -> None:
    model = [reason for reason in record.decision.reasons if reason.source == "model"]
    assert model
    attributions = record.attribution_of()
    for reason in model:
        assert reason.contributions
        assert reason.weight == pytest.approx(sum(reason.contributions.values()), abs=1e-4)
        for feature, value in reason.contributions.items():
            assert value > 0
            assert value == pytest.approx(attributions[feature], abs=1e-6)  # float32 there
    document = orjson.loads(encode_record(record))
    written = [r for r in document["reasons"] if r["source"] == "model"]
    assert [set(r["contributions"]) for r in written] == [set(r.contributions) for r in model]
    again = decode_record(encode_record(record))
    assert [r.contributions for r in again.decision.reasons] == [
        r.contributions for r in record.decision.reasons
    ]
    # The replay Redis keeps for retries answers as the response does: no contributions.
    replay = orjson.loads(encode_replay(record))
    assert all("contributions" not in r for r in replay["reasons"])


def test_a_decision_below_the_review_band_has_no_model_reasons_or_attributions(
    unexplained: DecisionRecord,
) -> None:
    assert [r for r in unexplained.decision.reasons if r.source == "model"] == []
    assert unexplained.attributions == ()
    again = decode_record(encode_record(unexplained))
    assert again.attributions == () and again.decision == unexplained.decision


def test_a_version_1_document_reads_with_reasons_without_contributions(
    record: DecisionRecord,
) -> None:
    document = orjson.loads(encode_record(record))
    document["record_version"] = 1
    for reason in document["reasons"]:
        reason.pop("contributions", None)
    old = decode_document(document)
    assert old.decision.reasons and all(r.contributions == {} for r in old.decision.reasons)
    assert [r.code for r in old.decision.reasons] == [r.code for r in record.decision.reasons]
    assert old.attributions == record.attributions


def test_a_missing_feature_is_null_when_written_and_nan_when_read(
    degraded: DecisionRecord,
) -> None:
    assert degraded.decision.degraded and degraded.degraded_cause == "unavailable"
    missing = [name for name, value in degraded.features.items() if math.isnan(value)]
    assert missing
    document = orjson.loads(encode_record(degraded))
    assert all(document["features"][FEATURE_ORDER.index(name)] is None for name in missing)
    again = decode_record(encode_record(degraded))
    assert [name for name, value in again.features.items() if math.isnan(value)] == missing
    assert again.degraded_cause == "unavailable"


def test_a_record_writes_its_feature_values_by_position_in_its_layout(
    record: DecisionRecord,
) -> None:
    """The record keeps the names once per layout (docs/record.md), not in every record."""
    document = orjson.loads(encode_record(record))
    assert document["feature_layout"] == FEATURE_LAYOUT == layout_of(DECLARED_NAMES)
    written = [math.nan if value is None else value for value in document["features"]]
    assert written == pytest.approx(list(record.features.values()), nan_ok=True)
    assert len(encode_record(record)) < 4_500  # the 123 names were about 3 KB of it
    reordered = replace(record, features=dict(reversed(list(record.features.items()))))
    document = orjson.loads(encode_record(reordered))  # not this build's order: by name
    backwards = list(reversed(FEATURE_ORDER))
    assert "feature_layout" not in document and list(document["features"]) == backwards
    assert list(decode_document(document).features) == backwards
    foreign = {**orjson.loads(encode_record(record)), "feature_layout": "fl-other"}
    with pytest.raises(RecordFormatError, match="feature layout 'fl-other'"):
        decode_document(foreign)


def test_the_store_keeps_a_replay_of_the_decision_the_score_path_made(
    server: RedisServer, record: DecisionRecord
) -> None:
    """Redis keeps the answer and the fingerprint for retries; the whole record goes to the
    system of record."""

    async def load() -> Replay | None:
        client = RespClient(host="127.0.0.1", port=server.port)
        try:
            return await DecisionStore(client, ttl_seconds=60, timeout_ms=50).load("codec-tx-1")
        finally:
            await client.aclose()

    stored = asyncio.run(load())
    assert stored is not None
    assert stored.decision == record.decision
    assert stored.fingerprint == record.request.fingerprint
    assert stored.decided_at_ms == record.decided_at_ms
    assert len(encode_replay(record)) < len(encode_record(record)) / 3


def test_a_document_from_before_record_version_is_read(record: DecisionRecord) -> None:
    """What stored decisions held before the field: no attributions, failed rules or cause."""
    document = record_document(record)
    for name in ("record_version", "attributions", "failed_rules", "degraded_cause"):
        del document[name]
    old = decode_document(orjson.loads(orjson.dumps(document)))
    assert (
        old.attributions == ()
        and old.attribution_of() == {}
        and old.failed_rules == ()
        and old.degraded_cause is None
    )
    assert old.decision == record.decision and old.request == record.request


def test_a_newer_or_broken_record_is_refused_saying_why(record: DecisionRecord) -> None:
    newer = {**record_document(record), "record_version": RECORD_VERSION + 1}
    with pytest.raises(RecordFormatError, match=f"record_version {RECORD_VERSION + 1}"):
        decode_document(newer)
    incomplete = record_document(record)
    del incomplete["features"]
    with pytest.raises(RecordFormatError, match=r"incomplete.*features"):
        decode_document(incomplete)
    with pytest.raises(RecordFormatError, match="not JSON"):
        decode_record(b"{ not json")
    with pytest.raises(RecordFormatError, match="not a JSON object"):
        decode_record(b"[1, 2]")
