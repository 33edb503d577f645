"""The review queue end to end (real uvicorn, Redis, PostgreSQL): a review or, as this policy
says, a challenge opens a case through the real recorder; analysts work it over HTTP; a
resolution is a label in the record and in the card's online label features."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.settings import DEFAULT_POLICY_FILE
from tests.service.conftest import (
    Backend,
    RunningService,
    auth,
    case_of,
    recorded,
    serving,
    transaction,
)

pytestmark = pytest.mark.redis
REVIEW = {"id": "cust", "email_domain": "mailinator.com"}  # the default policy's review rule
CHALLENGE = {"id": "dev", "ip": "192.0.2.7", "ip_country": "FR"}  # its challenge rule


@pytest.fixture(scope="module")
def service(
    service_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    policy = tmp_path_factory.mktemp("cases") / "policy.yaml"
    policy.write_text(
        DEFAULT_POLICY_FILE.read_text() + "\ncases:\n  open_on: [review, challenge]\n"
    )
    with serving(service_backend.settings(policy_file=Path(policy))) as running:
        yield running


def _score(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def _post(
    http: httpx.Client, path: str, body: dict[str, Any], scope: str = "analyst"
) -> httpx.Response:
    return http.post(path, json=body, headers=auth(scope))


def test_a_review_opens_a_case_and_its_fraud_resolution_labels_the_card(
    http: httpx.Client, namespace: str
) -> None:
    assert _score(http, transaction(namespace, 1, customer=REVIEW))["decision"] == "review"
    case = case_of(http, f"{namespace}card")
    assert (case["status"], case["transaction_id"], case["opened_by"]) == (
        "open",
        f"{namespace}tx1",
        "policy",
    )
    _score(http, transaction(namespace, 2))  # the same card and device, approved
    recorded(http, f"{namespace}tx2")
    page = http.get(f"/v1/cases/{case['case_id']}", headers=auth("analyst")).json()
    assert page["decision"]["transaction_id"] == f"{namespace}tx1"
    assert page["decision"]["features"] and page["decision"]["reasons"]
    assert page["decision"]["rules_matched"] == ["disposable_email"]
    assert page["decision"]["labels"] == []
    assert [d["transaction_id"] for d in page["card_decisions"]] == [f"{namespace}tx2"]
    assert [d["transaction_id"] for d in page["device_decisions"]] == [f"{namespace}tx2"]
    assert [e["kind"] for e in page["events"]] == ["opened"]

    claimed = _post(http, f"/v1/cases/{case['case_id']}/claim", {})
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["case"]["assignee"] == "test-analyst"
    resolved = _post(http, f"/v1/cases/{case['case_id']}/resolve", {"resolution": "fraud"})
    assert resolved.status_code == 200, resolved.text
    again = _post(http, f"/v1/cases/{case['case_id']}/resolve", {"resolution": "fraud"})
    assert again.status_code == 200 and again.json()["changed"] is False  # a retry

    labels = recorded(http, f"{namespace}tx1")["labels"]
    assert [(e["kind"], e["source"], e["reported_by"]) for e in labels] == [
        ("confirmed_fraud", "analyst", "test-analyst")
    ]
    _score(http, transaction(namespace, 3))
    assert recorded(http, f"{namespace}tx3")["features"]["card_fraud_count_30d"] == 1.0

    # Reopened and found legitimate: a correction, and the fraud is taken back out.
    assert _post(http, f"/v1/cases/{case['case_id']}/reopen", {"note": "cardholder"}).is_success
    fixed = _post(http, f"/v1/cases/{case['case_id']}/resolve", {"resolution": "legitimate"})
    assert fixed.status_code == 200, fixed.text
    history = recorded(http, f"{namespace}tx1")
    assert [e["kind"] for e in history["labels"]] == ["confirmed_fraud", "confirmed_legitimate"]
    _score(http, transaction(namespace, 4))
    assert recorded(http, f"{namespace}tx4")["features"]["card_fraud_count_30d"] == 0.0


def test_a_challenge_opens_a_case_as_the_policy_says(http: httpx.Client, namespace: str) -> None:
    body = transaction(namespace, 5, device={**CHALLENGE, "id": f"{namespace}dev"})
    assert _score(http, body)["decision"] == "challenge"
    assert case_of(http, f"{namespace}card")["transaction_id"] == f"{namespace}tx5"


def test_an_approval_opens_no_case_but_one_can_be_opened_by_hand(
    http: httpx.Client, namespace: str
) -> None:
    assert _score(http, transaction(namespace, 6))["decision"] == "approve"
    recorded(http, f"{namespace}tx6")
    listed = http.get("/v1/cases", params={"card_id": f"{namespace}card"}, headers=auth("analyst"))
    assert listed.json()["cases"] == []
    opened = _post(http, "/v1/cases", {"transaction_id": f"{namespace}tx6", "note": "odd"})
    assert opened.status_code == 201, opened.text
    assert opened.json()["case"]["opened_by"] == "test-analyst"
    again = _post(http, "/v1/cases", {"transaction_id": f"{namespace}tx6"})
    assert again.status_code == 200
    assert again.json()["case"]["case_id"] == opened.json()["case"]["case_id"]
    unknown = _post(http, "/v1/cases", {"transaction_id": f"{namespace}never"})
    assert unknown.status_code == 404, unknown.text


def test_moves_not_allowed_are_409_naming_the_state(http: httpx.Client, namespace: str) -> None:
    _score(http, transaction(namespace, 7, customer=REVIEW))
    case_id = case_of(http, f"{namespace}card")["case_id"]
    reopen = _post(http, f"/v1/cases/{case_id}/reopen", {})
    assert reopen.status_code == 409, reopen.text
    assert f"case {case_id} is open" in reopen.json()["detail"]
    assert reopen.json()["case_status"] == "open"
    assert _post(http, f"/v1/cases/{case_id}/assign", {"assignee": "test-analyst"}).is_success
    claim = _post(http, f"/v1/cases/{case_id}/claim", {})
    assert claim.status_code == 200  # already the caller's: nothing to do
    assert _post(http, f"/v1/cases/{case_id}/resolve", {"resolution": "inconclusive"}).is_success
    late = _post(http, f"/v1/cases/{case_id}/note", {"note": "kept for the audit"})
    assert late.status_code == 200, late.text
    refused = _post(http, f"/v1/cases/{case_id}/claim", {})
    assert refused.status_code == 409
    assert "resolved as inconclusive" in refused.json()["detail"]
    assert _post(http, "/v1/cases/999999999/claim", {}).status_code == 404


def test_bad_input_is_a_422_naming_the_field(http: httpx.Client, namespace: str) -> None:
    _score(http, transaction(namespace, 8, customer=REVIEW))
    case_id = case_of(http, f"{namespace}card")["case_id"]
    for path, body, field in (
        ("assign", {"assignee": "test-score"}, "assignee"),  # a key without the analyst scope
        ("resolve", {"resolution": "maybe"}, "resolution"),
        ("note", {}, "note"),
        ("note", {"note": "card 4111 1111 1111 1111"}, "note"),
    ):
        reply = _post(http, f"/v1/cases/{case_id}/{path}", body)
        assert reply.status_code == 422, (path, reply.text)
        assert reply.json()["errors"][0]["field"] == field
        assert "4111" not in reply.text
    age = http.get("/v1/cases", params={"min_age_seconds": "1e300"}, headers=auth("analyst"))
    assert age.status_code == 422
    assert age.json()["errors"][0]["field"] == "query.min_age_seconds"
    cursor = http.get("/v1/cases", params={"cursor": "nonsense"}, headers=auth("analyst"))
    assert cursor.status_code == 422 and cursor.json()["errors"][0]["field"] == "cursor"


def test_concurrent_resolves_record_one_label(
    http: httpx.Client, namespace: str, service: RunningService
) -> None:
    _score(http, transaction(namespace, 9, customer=REVIEW))
    case_id = case_of(http, f"{namespace}card")["case_id"]
    replies: list[httpx.Response] = []

    def resolve(resolution: str, scope: str) -> None:
        with service.client() as client:
            replies.append(
                _post(client, f"/v1/cases/{case_id}/resolve", {"resolution": resolution}, scope)
            )

    threads = [
        threading.Thread(target=resolve, args=("fraud", "analyst")),
        threading.Thread(target=resolve, args=("legitimate", "analyst")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reply.status_code for reply in replies) == [200, 409], [r.text for r in replies]
    assert len(recorded(http, f"{namespace}tx9")["labels"]) == 1


def test_scopes(http: httpx.Client, namespace: str) -> None:
    assert http.get("/v1/cases", headers=auth("score")).status_code == 403
    assert http.get("/v1/cases", headers=auth("feedback")).status_code == 403
    assert http.get("/v1/cases").status_code == 401
    assert http.get("/v1/cases", headers=auth("admin")).status_code == 200
    assert _post(http, "/v1/cases/1/claim", {}, "admin").status_code == 403
    assert _post(http, "/v1/cases", {"transaction_id": "x"}, "score").status_code == 403


def test_pages_over_http(http: httpx.Client, namespace: str) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        reply = http.get("/v1/cases", params=params, headers=auth("analyst"))
        assert reply.status_code == 200, reply.text
        seen += [case["case_id"] for case in reply.json()["cases"]]
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            break
    everything = http.get("/v1/cases", params={"limit": 500}, headers=auth("analyst")).json()
    assert seen == [case["case_id"] for case in everything["cases"]] and len(set(seen)) == len(seen)


def test_queue_health_in_metrics(http: httpx.Client, namespace: str) -> None:
    _score(http, transaction(namespace, 10, customer=REVIEW))
    case_id = case_of(http, f"{namespace}card")["case_id"]
    assert _post(http, f"/v1/cases/{case_id}/resolve", {"resolution": "inconclusive"}).is_success
    _score(http, transaction(namespace, 11, customer=REVIEW))
    case_of(http, f"{namespace}card")
    text = http.get("/metrics").text
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(lines['riskscore_cases_unresolved{age="0-1h",status="open"}']) >= 1
    assert float(lines["riskscore_cases_oldest_unresolved_age_seconds"]) > 0
    assert float(lines["riskscore_cases_max_unresolved_age_seconds"]) == 14_400
    assert float(lines["riskscore_case_resolution_seconds_count"]) >= 1


def test_reviews_on_one_card_share_its_case(http: httpx.Client, namespace: str) -> None:
    for number in (12, 13):
        assert _score(http, transaction(namespace, number, customer=REVIEW))["decision"] == "review"
    recorded(http, f"{namespace}tx13")
    listed = http.get("/v1/cases", params={"card_id": f"{namespace}card"}, headers=auth("analyst"))
    [case] = listed.json()["cases"]
    page = http.get(f"/v1/cases/{case['case_id']}", headers=auth("analyst")).json()
    assert [d["transaction_id"] for d in page["decisions"]] == [
        f"{namespace}tx12",
        f"{namespace}tx13",
    ]
    assert all(d["in_record"] for d in page["decisions"])
    assert [e["kind"] for e in page["events"]] == ["opened", "linked"]
