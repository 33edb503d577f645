"""Degraded mode as a checkout receives it over HTTP (docs/api.md, docs/policy.md): the feature
call times out for sure (Redis paused far beyond a 100 ms budget), and the policy's `degraded`
section, or its absence, decides what is still approved."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from feature_store.redis_server import RedisServer
from service.settings import DEFAULT_POLICY_FILE
from tests.service.conftest import (
    IMPATIENT_FEATURE_TIMEOUT_MS,
    RunningService,
    auth,
    reasons,
    settings_for,
    transaction,
    writes_paused,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

DEFAULT_POLICY = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())


def _last_night(number: int) -> datetime:
    """04:mm at UTC+01:00, the latest such time in the past (within the edge's 24 h)."""
    zone = timezone(timedelta(hours=1))
    now = datetime.now(zone)
    night = now.replace(hour=4, minute=number % 60, second=0, microsecond=0)
    return night if night < now else night - timedelta(days=1)


def _risky(namespace: str, number: int) -> dict[str, Any]:
    """What the model flags even with no history: a mail-order payment at night from another
    country on an account opened today."""
    body = transaction(namespace, number, amount=50.0, channel="moto", shipping_country="FR")
    body["timestamp"] = _last_night(number).isoformat()
    body["device"] = {**body["device"], "ip_country": "NG"}
    body["customer"] = {**body["customer"], "account_age_days": 0}
    return body


def _policy_file(tmp: Path, name: str, change: dict[str, Any], drop: str | None = None) -> Path:
    document = {**DEFAULT_POLICY, **change}
    if drop is not None:
        del document[drop]
    path = tmp / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def _start(redis_server: RedisServer, **overrides: Any) -> Iterator[RunningService]:
    service = RunningService.start(
        settings_for(redis_server.url, feature_timeout_ms=IMPATIENT_FEATURE_TIMEOUT_MS, **overrides)
    )
    yield service
    service.stop()


@pytest.fixture(scope="module")
def default_policy(redis_server: RedisServer) -> Iterator[RunningService]:
    yield from _start(redis_server)


@pytest.fixture(scope="module")
def no_degraded_section(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    path = _policy_file(tmp_path_factory.mktemp("policy"), "plain.yaml", {}, drop="degraded")
    yield from _start(redis_server, policy_file=path)


@pytest.fixture(scope="module")
def degraded_scores(
    redis_server: RedisServer, default_policy: RunningService
) -> tuple[float, float]:
    """What the model scores an ordinary and a risky transaction with no features (every
    degraded decision is scored so): the tests' policies put their edges between the two, so
    that they hold for whatever model is the default."""
    prefix = f"calib{uuid.uuid4().hex[:6]}-"
    ordinary = float(_degraded(redis_server, default_policy, transaction(prefix, 90))["score"])
    risky = float(_degraded(redis_server, default_policy, _risky(prefix, 91))["score"])
    assert ordinary < risky, (ordinary, risky)
    return ordinary, risky


@pytest.fixture(scope="module")
def low_bands(
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    degraded_scores: tuple[float, float],
) -> Iterator[RunningService]:
    """The default policy with `review_at` just below the risky transaction's degraded score."""
    change = {
        "bands": {"review_at": degraded_scores[1] * 0.9, "challenge_at": 0.998, "decline_at": 0.999}
    }
    path = _policy_file(tmp_path_factory.mktemp("policy"), "low.yaml", change)
    yield from _start(redis_server, policy_file=path)


@pytest.fixture(scope="module")
def wide_bands(
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
    degraded_scores: tuple[float, float],
) -> Iterator[RunningService]:
    """Bands above the risky transaction's degraded score, so only the limit can stop it, and
    `approve_below` between the ordinary and the risky transaction's degraded scores."""
    change = {
        "bands": {"review_at": 0.995, "challenge_at": 0.997, "decline_at": 0.999},
        "degraded": {"approve_below": sum(degraded_scores) / 2, "otherwise": "challenge"},
    }
    path = _policy_file(tmp_path_factory.mktemp("policy"), "wide.yaml", change)
    yield from _start(redis_server, policy_file=path)


def _score(service: RunningService, body: dict[str, Any]) -> dict[str, Any]:
    with service.client() as http:
        reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def _degraded(redis_server: RedisServer, service: RunningService, body: dict[str, Any]) -> Any:
    with writes_paused(redis_server.url):
        scored = _score(service, body)
    assert scored["degraded"] is True, scored
    assert "FEATURES_UNAVAILABLE" in reasons(scored)
    return scored


def test_default_policy_in_degraded_mode_approves_below_approve_below(
    redis_server: RedisServer, default_policy: RunningService, namespace: str
) -> None:
    scored = _degraded(redis_server, default_policy, transaction(namespace, 1))
    limit = DEFAULT_POLICY["degraded"]["approve_below"]
    assert scored["score"] < limit
    assert scored["decision"] == "approve"
    assert "DEGRADED_MODE_LIMIT" not in reasons(scored)
    assert reasons(scored)[-1] == "FEATURES_UNAVAILABLE"  # system reasons come last


def _usd(namespace: str, number: int, amount: float) -> dict[str, Any]:
    return transaction(namespace, number, amount=amount, currency="USD")


def _assert_by_amount(small: dict[str, Any], large: dict[str, Any]) -> None:
    """docs/policy.md, degraded mode: an ordinary small amount is approved, one above 500 USD
    challenged by `degraded_high_amount`."""
    assert small["degraded"] is True and large["degraded"] is True
    assert small["decision"] == "approve" and small["rules_matched"] == []
    assert reasons(small)[-1] == "FEATURES_UNAVAILABLE"
    assert large["decision"] == "challenge", large
    assert large["rules_matched"] == ["degraded_high_amount"]
    assert reasons(large)[0] == "HIGH_AMOUNT" and "DEGRADED_MODE_LIMIT" not in reasons(large)


def test_default_policy_when_features_time_out_challenges_only_large_amounts(
    redis_server: RedisServer, default_policy: RunningService, namespace: str
) -> None:
    small = _degraded(redis_server, default_policy, _usd(namespace, 20, 40.0))
    large = _degraded(redis_server, default_policy, _usd(namespace, 21, 900.0))
    _assert_by_amount(small, large)
    # The rule's edge, both sides: 500 USD is not above it, a cent more is.
    at = _degraded(redis_server, default_policy, _usd(namespace, 22, 500.0))
    above = _degraded(redis_server, default_policy, _usd(namespace, 23, 500.01))
    assert at["decision"] == "approve" and at["rules_matched"] == []
    assert above["decision"] == "challenge" and above["rules_matched"] == ["degraded_high_amount"]
    # With its features the same large payment is the model's and the bands' to decide.
    normal = _score(default_policy, _usd(namespace, 24, 900.0))
    assert normal["degraded"] is False and normal["rules_matched"] == []
    assert normal["decision"] == "approve"


def test_default_policy_with_redis_down_challenges_only_large_amounts(namespace: str) -> None:
    with RedisServer() as server:
        service = RunningService.start(settings_for(server.url))
        try:
            server.stop()  # refused at once: "unavailable", no time budget involved
            small = _score(service, _usd(namespace, 30, 40.0))
            large = _score(service, _usd(namespace, 31, 900.0))
        finally:
            service.stop()
    _assert_by_amount(small, large)


def test_default_policy_sends_a_risky_degraded_score_to_review(
    redis_server: RedisServer, default_policy: RunningService, namespace: str
) -> None:
    """What scores at or above `approve_below` without its history goes to review."""
    # What the default model scores 0.014-0.057 at every hour of the week with no history: a
    # British card in an Australian electronics shop, from a Mexican IP, shipped to Mexico.
    body = _usd(namespace, 32, 200.0)
    body["card"] = {**body["card"], "country": "GB"}
    body["merchant"] = {**body["merchant"], "mcc": "5732", "country": "AU"}
    body["device"] = {**body["device"], "ip_country": "MX"}
    body["customer"] = {**body["customer"], "email_domain": "icloud.com", "account_age_days": 2400}
    body.update(channel="app", billing_country="GB", shipping_country="MX")
    scored = _degraded(redis_server, default_policy, body)
    bands = DEFAULT_POLICY["bands"]
    assert DEFAULT_POLICY["degraded"] == {"approve_below": 0.01, "otherwise": "review"}
    assert 0.01 <= scored["score"] < bands["review_at"], scored
    assert scored["rules_matched"] == []
    assert scored["decision"] == "review"
    assert reasons(scored)[-2:] == ["FEATURES_UNAVAILABLE", "DEGRADED_MODE_LIMIT"]


def test_degraded_mode_keeps_the_band_of_a_risky_score(
    redis_server: RedisServer, low_bands: RunningService, namespace: str
) -> None:
    """At or above `review_at` the band already stops the payment; the limit changes nothing."""
    scored = _degraded(redis_server, low_bands, _risky(namespace, 2))
    bands = yaml.safe_load(low_bands.settings.policy_file.read_text())["bands"]
    assert bands["review_at"] <= scored["score"]
    expected = "review" if scored["score"] < bands["challenge_at"] else "challenge"
    assert scored["score"] < bands["decline_at"]
    assert scored["decision"] == expected
    assert "DEGRADED_MODE_LIMIT" not in reasons(scored)


def test_degraded_limit_raises_an_approve_with_its_reason(
    redis_server: RedisServer,
    wide_bands: RunningService,
    namespace: str,
    degraded_scores: tuple[float, float],
) -> None:
    limit = sum(degraded_scores) / 2
    body = _risky(namespace, 3)
    scored = _degraded(redis_server, wide_bands, body)
    assert limit <= scored["score"] < 0.995  # the band says approve, the limit does not
    assert scored["decision"] == "challenge"  # `degraded.otherwise`
    assert reasons(scored)[-2:] == ["FEATURES_UNAVAILABLE", "DEGRADED_MODE_LIMIT"]
    ordinary = _degraded(redis_server, wide_bands, transaction(namespace, 4))
    assert ordinary["score"] < limit
    assert ordinary["decision"] == "approve"
    assert "DEGRADED_MODE_LIMIT" not in reasons(ordinary)


def test_allow_rule_still_approves_in_degraded_mode(
    redis_server: RedisServer,
    wide_bands: RunningService,
    namespace: str,
    degraded_scores: tuple[float, float],
) -> None:
    merchant = f"{namespace}merchant"
    with wide_bands.client() as http:
        added = http.post(
            "/v1/admin/lists/trusted_merchants",
            json={"entries": [merchant]},
            headers=auth("admin"),
        )
        assert added.status_code == 200, added.text

    probes = iter(range(100, 100_000))

    def allowed() -> bool:  # each probe a new transaction of the trusted merchant
        probe = _score(wide_bands, _risky(namespace, next(probes)))
        return "trusted_merchant" in probe["rules_matched"]

    wait_until(allowed, "the trusted merchant reached the service's lists")
    scored = _degraded(redis_server, wide_bands, _risky(namespace, 5))
    assert scored["score"] >= sum(degraded_scores) / 2  # without the allow rule: challenge
    assert scored["decision"] == "approve"
    assert scored["rules_matched"] == ["trusted_merchant"]
    assert "DEGRADED_MODE_LIMIT" not in reasons(scored)


def test_policy_without_a_degraded_section_approves_nothing_in_degraded_mode(
    redis_server: RedisServer, no_degraded_section: RunningService, namespace: str
) -> None:
    body = transaction(namespace, 6)
    normal = _score(no_degraded_section, transaction(namespace, 7))
    assert normal["degraded"] is False and normal["decision"] == "approve"
    scored = _degraded(redis_server, no_degraded_section, body)
    assert scored["score"] < DEFAULT_POLICY["degraded"]["approve_below"]  # default would approve
    assert scored["decision"] == "review"  # approve_below 0, otherwise review
    assert reasons(scored)[-2:] == ["FEATURES_UNAVAILABLE", "DEGRADED_MODE_LIMIT"]


def test_degraded_decisions_are_counted_as_degraded(
    redis_server: RedisServer, default_policy: RunningService, namespace: str
) -> None:
    _degraded(redis_server, default_policy, transaction(namespace, 8))
    with httpx.Client(base_url=default_policy.url) as http:
        metrics = http.get("/metrics").text
    assert 'riskscore_feature_store_errors_total{kind="timeout"}' in metrics
    assert 'degraded="true"' in metrics
