"""Webhooks end to end: the admin API on a real uvicorn service (its own Redis and database),
a real receiver on a free port verifying each signature; decisions and labels go out from the
recorder's and the label path's transactions."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from feature_store.redis_server import RedisServer
from riskscore.cli import main
from tests.service.conftest import (
    KEYS,
    RunningService,
    auth,
    serving,
    settings_for,
    transaction,
)
from tests.webhooks.receiver import Receiver

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
SUBSCRIPTIONS = "/v1/admin/webhooks/subscriptions"


@pytest.fixture
def service(record_url: str) -> Iterator[RunningService]:
    key = base64.b64encode(os.urandom(32)).decode()
    with (
        RedisServer() as redis,
        serving(
            settings_for(
                redis.url,
                database_url=record_url,
                webhook_secrets_key=key,
                webhook_backoff_base_seconds=0.05,
                webhook_backoff_cap_seconds=0.2,
                webhook_max_attempts=2,
            )
        ) as running,
    ):
        yield running


@pytest.fixture
def http(service: RunningService) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client


def _subscribe(http: httpx.Client, url: str, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "kinds": ["decision.created"], **fields}
    reply = http.post(SUBSCRIPTIONS, json=body, headers=auth("admin"))
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


def test_subscriptions_are_managed_by_admins_and_the_secret_shown_once(
    http: httpx.Client,
) -> None:
    refused = http.post(
        SUBSCRIPTIONS,
        json={"url": "gopher://127.0.0.1:6379/_", "kinds": ["decision.created"]},
        headers=auth("admin"),
    )
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["url"]
    body = {"url": "https://hooks.example.com/in", "kinds": ["label.recorded"]}
    assert http.post(SUBSCRIPTIONS, json=body, headers=auth("analyst")).status_code == 403
    created = _subscribe(http, "https://hooks.example.com/in", outcomes=["decline"])
    assert created["secret"].startswith("whsec_")
    path = f"{SUBSCRIPTIONS}/{created['subscription_id']}"
    shown = http.get(path, headers=auth("admin")).json()
    assert "secret" not in shown and shown["outcomes"] == ["decline"]
    assert shown["deliveries"] == {"pending": 0, "delivered": 0, "dead": 0}
    changed = http.patch(path, json={"enabled": False}, headers=auth("admin"))
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert changed.json()["url"] == "https://hooks.example.com/in"
    bad = http.patch(path, json={"url": "file:///etc/passwd"}, headers=auth("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "url"
    listed = http.get(SUBSCRIPTIONS, headers=auth("admin")).json()["subscriptions"]
    assert [s["subscription_id"] for s in listed] == [created["subscription_id"]]
    assert all("secret" not in s for s in listed)
    assert http.delete(path, headers=auth("admin")).status_code == 204
    assert http.get(path, headers=auth("admin")).status_code == 404
    assert http.get(f"{SUBSCRIPTIONS}/not-a-uuid", headers=auth("admin")).status_code == 404


def test_a_decision_is_delivered_signed_to_the_subscriptions_that_want_it(
    http: httpx.Client, namespace: str
) -> None:
    with Receiver() as receiver, Receiver() as declines:
        receiver.secret = _subscribe(http, receiver.url)["secret"]
        declines.secret = _subscribe(http, declines.url, outcomes=["decline"])["secret"]
        scored = http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
        assert scored.status_code == 200 and scored.json()["decision"] != "decline"
        (got,) = receiver.wait_for(lambda seen: len(seen) >= 1)
        assert not declines.received
    assert got.verified and got.kind == "decision.created"
    data = got.body["data"]
    assert data["transaction_id"] == f"{namespace}tx1"
    assert data["decision"] == scored.json()["decision"]
    assert data["score"] == pytest.approx(scored.json()["score"])
    assert data["transaction"]["card_id"] == f"{namespace}card"


def test_a_label_from_feedback_is_delivered(http: httpx.Client, namespace: str) -> None:
    with Receiver() as receiver:
        receiver.secret = _subscribe(http, receiver.url, kinds=["label.recorded"])["secret"]
        http.post("/v1/score", json=transaction(namespace, 2), headers=auth("score"))
        label = {
            "transaction_id": f"{namespace}tx2",
            "label": "chargeback",
            "reported_at": (datetime.now(UTC) - timedelta(seconds=30)).isoformat(),
        }
        for _ in range(2):  # the same report twice is one label event, one webhook event
            reply = http.post("/v1/feedback", json=label, headers=auth("feedback"))
            assert reply.status_code == 200, reply.text
        (got,) = receiver.wait_for(lambda seen: len(seen) >= 1)
        assert len(receiver.received) == 1
    assert got.verified and got.kind == "label.recorded"
    assert got.body["data"]["transaction_id"] == f"{namespace}tx2"
    assert got.body["data"]["kind"] == "chargeback" and got.body["data"]["is_fraud"] is True


def test_dead_letters_are_listed_and_replayed_through_the_admin_api(
    http: httpx.Client, namespace: str
) -> None:
    with Receiver(statuses=[500, 500]) as receiver:
        created = _subscribe(http, receiver.url)
        receiver.secret = created["secret"]
        path = f"{SUBSCRIPTIONS}/{created['subscription_id']}"
        http.post("/v1/score", json=transaction(namespace, 3), headers=auth("score"))
        receiver.wait_for(lambda seen: len(seen) >= 2)  # the bound is 2 attempts
        dead = _wait_for_deliveries(http, path, "dead")
        assert dead[0]["attempts"] == 2 and dead[0]["last_status"] == 500
        replay = http.post(f"{path}/replay", json={}, headers=auth("admin"))
        assert replay.status_code == 200 and replay.json()["pending"] == 1
        received = receiver.wait_for(lambda seen: len(seen) >= 3)
        delivered = _wait_for_deliveries(http, path, "delivered")
    assert [got.answered for got in received] == [500, 500, 200]
    assert {got.event_id for got in received} == {delivered[0]["event_id"]}
    refused = http.post(f"{path}/replay", json={"since": "2026-01-01T00:00"}, headers=auth("admin"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "since"


def _wait_for_deliveries(http: httpx.Client, path: str, status: str) -> list[dict[str, Any]]:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        reply = http.get(f"{path}/deliveries", params={"status": status}, headers=auth("admin"))
        assert reply.status_code == 200, reply.text
        if reply.json()["deliveries"]:
            found: list[dict[str, Any]] = reply.json()["deliveries"]
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {status} delivery at {path}")


def test_the_replay_command_goes_through_the_admin_api(
    service: RunningService, http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    created = _subscribe(http, "https://hooks.example.com/in")
    command = ["webhooks", "replay", "--url", service.url, "--key", KEYS["admin"]]
    assert main([*command[:2], created["subscription_id"], *command[2:]]) == 0
    assert "0 dead-lettered deliveries" in capsys.readouterr().err
    since = [created["subscription_id"], "--since", "2026-01-01T00:00:00+00:00"]
    assert main([*command[:2], *since, *command[2:]]) == 0
    assert main([*command[:2], "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", *command[2:]]) == 2
    assert "no subscription" in capsys.readouterr().err
    assert main([*command[:2], created["subscription_id"], "--since", "yesterday"]) == 2
