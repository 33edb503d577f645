"""Admin routes end to end: publish, refuse, roll back and hot-reload a policy under load; list
changes seen by the score path; model reload; scope and audit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from feature_store import keys
from service.settings import DEFAULT_POLICY_FILE
from tests.service.conftest import (
    BACKENDS,
    Backend,
    RunningService,
    auth,
    backend_of,
    serving,
    transaction,
)

pytestmark = pytest.mark.redis
SWITCH_SECONDS = 1.0
# XRANGE of the audit stream on a decoding client (redis-py types it a union).
AuditEntries = list[tuple[str, dict[str, str]]]


@pytest.fixture(params=BACKENDS)
def own_service(request: pytest.FixtureRequest) -> Iterator[tuple[RunningService, Backend]]:
    """A service on a Redis of the test's own (publishing changes what every test would see):
    one server, then a local Redis Cluster."""
    with backend_of(request.param) as backend:
        service = RunningService.start(backend.settings())
        try:
            yield service, backend
        finally:
            service.stop()


def _policy_with(extra_rule: str) -> str:
    return DEFAULT_POLICY_FILE.read_text().rstrip("\n") + "\n" + extra_rule


HIGH_AMOUNT_RULE = """
  - id: test_decline_big_amounts
    description: Decline everything above 40 USD (a test rule).
    when: amount_usd > 40
    action: decline
    hard: false
    reason_code: HIGH_AMOUNT
    mode: active
    owner: tests
"""


def _publish(http: httpx.Client, text: str) -> httpx.Response:
    return http.post("/v1/admin/policy/publish", json={"text": text}, headers=auth("admin"))


def test_publish_switches_every_request_atomically_under_load(
    own_service: tuple[RunningService, Backend], namespace: str
) -> None:
    service, _ = own_service
    with service.client() as http:
        before = http.get("/v1/admin/policy", headers=auth("admin")).json()["version"]
        seen: list[tuple[int, str, str]] = []
        stop = threading.Event()

        def load(worker: int) -> None:
            with service.client() as client:
                number = worker * 10_000
                while not stop.is_set():
                    number += 1
                    body = transaction(namespace, number)
                    reply = client.post("/v1/score", json=body, headers=auth("score"))
                    seen.append(
                        (
                            reply.status_code,
                            reply.json().get("policy_version", ""),
                            reply.json().get("decision", ""),
                        )
                    )

        threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        published = _publish(http, _policy_with(HIGH_AMOUNT_RULE))
        published_at = time.monotonic()
        assert published.status_code == 200, published.text
        version = published.json()["version"]
        time.sleep(SWITCH_SECONDS + 0.3)
        stop.set()
        for thread in threads:
            thread.join()
        assert published_at > 0
    assert {status for status, _, _ in seen} == {200}
    assert {v for _, v, _ in seen} <= {before, version}
    # After the switch every decision is the new policy's: amount 42.5 EUR > 40 USD.
    tail = seen[-8:]
    assert all(v == version and d == "decline" for _, v, d in tail), tail


def test_refused_policy_names_the_problem_and_the_last_good_keeps_serving(
    own_service: tuple[RunningService, Backend], namespace: str
) -> None:
    service, _ = own_service
    with service.client() as http:
        before = http.get("/v1/admin/policy", headers=auth("admin")).json()["version"]
        broken = _policy_with(HIGH_AMOUNT_RULE.replace("amount_usd > 40", "amount_usdd > 40"))
        refused = _publish(http, broken)
        assert refused.status_code == 422
        assert "test_decline_big_amounts" in refused.json()["detail"]
        assert "amount_usd" in refused.json()["detail"]  # did you mean
        validated = http.post(
            "/v1/admin/policy/validate", json={"text": broken}, headers=auth("admin")
        )
        assert validated.status_code == 422
        time.sleep(SWITCH_SECONDS)
        scored = http.post("/v1/score", json=transaction(namespace, 1), headers=auth("score"))
        assert scored.json()["policy_version"] == before


def test_rollback_and_history(own_service: tuple[RunningService, Backend], namespace: str) -> None:
    service, server = own_service
    with service.client() as http:
        first = _publish(http, DEFAULT_POLICY_FILE.read_text()).json()["version"]
        second = _publish(http, _policy_with(HIGH_AMOUNT_RULE)).json()["version"]
        assert first != second
        rolled = http.post("/v1/admin/policy/rollback", json={}, headers=auth("admin"))
        assert rolled.status_code == 200, rolled.text
        assert rolled.json()["version"] == first
        history = http.get("/v1/admin/policy/history", headers=auth("admin")).json()
        assert len(history) >= 3
        time.sleep(SWITCH_SECONDS + 0.2)
        scored = http.post("/v1/score", json=transaction(namespace, 2), headers=auth("score"))
        assert scored.json()["policy_version"] == first
    audit = cast(AuditEntries, server.sync_client().xrange(keys.AUDIT_STREAM))
    actions = [fields["action"] for _, fields in audit]
    assert actions.count("policy.publish") >= 2 and "policy.rollback" in actions
    assert {fields["actor"] for _, fields in audit} == {"test-admin"}


def test_list_entries_reach_the_score_path_within_a_second(
    own_service: tuple[RunningService, Backend], namespace: str
) -> None:
    service, _ = own_service
    card = f"{namespace}card"
    with service.client() as http:
        policy = http.get("/v1/admin/policy", headers=auth("admin")).json()
        assert "blocked_cards" in policy["text"]
        added = http.post(
            "/v1/admin/lists/blocked_cards", json={"entries": [card]}, headers=auth("admin")
        )
        assert added.status_code == 200, added.text
        time.sleep(SWITCH_SECONDS)
        scored = http.post("/v1/score", json=transaction(namespace, 3), headers=auth("score"))
        assert scored.json()["decision"] == "decline"
        assert "BLOCK_LISTED_CARD" in [r["code"] for r in scored.json()["reasons"]]
        shown = http.get("/v1/admin/lists/blocked_cards", headers=auth("admin")).json()
        assert shown["count"] >= 1


def test_model_reload_refuses_a_broken_artifact_and_keeps_serving(
    tmp_path: Path, namespace: str
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text('{"schema_version": 1}')
    with (
        backend_of("single") as backend,
        serving(backend.settings(model_artifacts_root=tmp_path)) as service,
        service.client() as http,
    ):
        refused = http.post(
            "/v1/admin/model/reload", json={"model_dir": str(broken)}, headers=auth("admin")
        )
        assert refused.status_code == 422
        assert "manifest.json" in refused.json()["detail"]
        reloaded = http.post("/v1/admin/model/reload", json={}, headers=auth("admin"))
        assert reloaded.status_code == 200, reloaded.text
        scored = http.post("/v1/score", json=transaction(namespace, 4), headers=auth("score"))
        assert scored.json()["model_version"] == reloaded.json()["version"]


def test_admin_routes_need_the_admin_scope(http: httpx.Client) -> None:
    assert http.get("/v1/admin/policy").status_code == 401
    assert http.get("/v1/admin/policy", headers=auth("score")).status_code == 403
    reply = http.post("/v1/admin/model/reload", json={}, headers=auth("feedback"))
    assert reply.status_code == 403


def test_list_requests_over_the_batch_limit_are_refused_and_write_nothing() -> None:
    """`max_list_entries_per_request` bounds add, remove and check alike (413, naming it)."""
    with backend_of("single") as backend:
        service = RunningService.start(backend.settings(max_list_entries_per_request=2))
        try:
            with service.client() as http:
                path = "/v1/admin/lists/blocked_cards"
                over = {"entries": ["tok_a", "tok_b", "tok_c"]}
                for suffix in ("", "/remove", "/check"):
                    reply = http.post(path + suffix, json=over, headers=auth("admin"))
                    assert reply.status_code == 413, (suffix, reply.text)
                    assert "entries: 3 in one request; at most 2" in reply.json()["detail"]
                assert http.get(path, headers=auth("admin")).json()["count"] == 0
                at_limit = {"entries": ["tok_a", "tok_b"]}
                assert http.post(path, json=at_limit, headers=auth("admin")).status_code == 200
                limits = http.get("/v1/admin/limits", headers=auth("admin")).json()
                assert limits["max_list_entries_per_request"] == 2
        finally:
            service.stop()


def test_list_changes_are_audited_with_the_key_list_and_count(
    own_service: tuple[RunningService, Backend],
) -> None:
    service, backend = own_service
    path = "/v1/admin/lists/blocked_cards"
    with service.client() as http:
        body = {"entries": ["tok_audit_1", "tok_audit_2"]}
        assert http.post(path, json=body, headers=auth("admin")).status_code == 200
        removed = http.post(
            path + "/remove", json={"entries": ["tok_audit_1"]}, headers=auth("admin")
        )
        assert removed.status_code == 200
    audit = cast(AuditEntries, backend.sync_client().xrange(keys.AUDIT_STREAM))
    changes = [
        (f["action"], f["list"], f["entries"], f["actor"])
        for _, f in audit
        if f["action"].startswith("list.")
    ]
    assert changes == [
        ("list.add", "blocked_cards", "2", "test-admin"),
        ("list.remove", "blocked_cards", "1", "test-admin"),
    ]
    assert all(int(f["at_ms"]) > 0 for _, f in audit)


def test_list_expiry_in_the_past_is_refused_naming_the_field(http: httpx.Client) -> None:
    body = {"entries": ["tok_old"], "expires_at": "2020-01-01T00:00:00Z"}
    reply = http.post("/v1/admin/lists/blocked_cards", json=body, headers=auth("admin"))
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"][0]["field"] == "expires_at"
    assert "is in the past" in reply.json()["detail"]
    naive = {"entries": ["tok_old"], "expires_at": "2031-01-01T00:00:00"}
    reply = http.post("/v1/admin/lists/blocked_cards", json=naive, headers=auth("admin"))
    assert reply.status_code == 422 and "has no time zone" in reply.json()["detail"]


def test_list_show_of_an_unknown_list_is_404(http: httpx.Client) -> None:
    reply = http.get("/v1/admin/lists/blocked_cardz", headers=auth("admin"))
    assert reply.status_code == 404
    assert "did you mean 'blocked_cards'" in reply.json()["detail"]


def test_list_check_names_the_bad_entry_and_writes_nothing(http: httpx.Client) -> None:
    body = {"entries": ["tok_ok", "tok with space"]}
    reply = http.post("/v1/admin/lists/blocked_cards/check", json=body, headers=auth("admin"))
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "entries[1]"
    good = {"entries": ["tok_check_only"]}
    reply = http.post("/v1/admin/lists/blocked_cards/check", json=good, headers=auth("admin"))
    assert reply.json() == {"name": "blocked_cards", "valid": 1}
    shown = http.get("/v1/admin/lists/blocked_cards", headers=auth("admin")).json()
    assert "tok_check_only" not in [e["value"] for e in shown["entries"]]


def test_every_admin_attempt_is_audited_with_the_key_and_the_outcome(
    own_service: tuple[RunningService, Backend],
) -> None:
    service, backend = own_service
    with service.client() as http:
        invalid = _publish(http, "rules: [not a policy")
        assert invalid.status_code == 422
        refused = http.post(
            "/v1/admin/policy/rollback", json={"to_version": "pol-unknown"}, headers=auth("admin")
        )
        assert refused.status_code in (404, 409)
        forbidden = http.post("/v1/admin/policy/publish", json={"text": "x"}, headers=auth("score"))
        assert forbidden.status_code == 403
        anonymous = http.post("/v1/admin/model/reload", json={})
        assert anonymous.status_code == 401
        done = _publish(http, DEFAULT_POLICY_FILE.read_text())
        assert done.status_code == 200
    audit = cast(AuditEntries, backend.sync_client().xrange(keys.AUDIT_STREAM))
    seen = [
        (e["action"], e["actor"], e["outcome"], e["status"], e.get("request_id")) for _, e in audit
    ]
    assert seen[-5:] == [
        ("policy.publish", "test-admin", "refused", "422", invalid.headers["x-request-id"]),
        (
            "policy.rollback",
            "test-admin",
            "refused",
            str(refused.status_code),
            refused.headers["x-request-id"],
        ),
        ("policy.publish", "test-score", "refused", "403", forbidden.headers["x-request-id"]),
        ("model.reload", "anonymous", "refused", "401", anonymous.headers["x-request-id"]),
        ("policy.publish", "test-admin", "done", "200", done.headers["x-request-id"]),
    ]
    assert audit[-1][1]["version"] == done.json()["version"]
    assert "not a policy" not in str(audit)  # the text is not audited, only its outcome
