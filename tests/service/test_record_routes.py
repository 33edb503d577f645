"""GET /v1/decisions and /v1/decisions/{id} end to end, from the record in PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.service.conftest import auth, recorded, transaction

pytestmark = pytest.mark.redis


def _list(http: httpx.Client, scope: str = "analyst", **query: str) -> httpx.Response:
    return http.get("/v1/decisions", params=query, headers=auth(scope))


def test_decisions_are_listed_newest_first_a_page_at_a_time(
    http: httpx.Client, namespace: str
) -> None:
    for number in range(1, 6):
        http.post("/v1/score", json=transaction(namespace, number), headers=auth("score"))
    recorded(http, f"{namespace}tx5")
    for number in range(1, 5):
        recorded(http, f"{namespace}tx{number}")
    first = _list(http, card_id=f"{namespace}card", limit="3")
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["decisions"]) == 3 and page["next_cursor"]
    rest = _list(http, card_id=f"{namespace}card", limit="3", cursor=page["next_cursor"]).json()
    ids = [d["transaction_id"] for d in page["decisions"] + rest["decisions"]]
    assert sorted(ids) == sorted(f"{namespace}tx{n}" for n in range(1, 6))
    assert len(set(ids)) == 5 and rest["next_cursor"] is None
    decided = [d["decided_at"] for d in page["decisions"] + rest["decisions"]]
    assert decided == sorted(decided, reverse=True)


def test_filters_combine(http: httpx.Client, namespace: str) -> None:
    http.post("/v1/score", json=transaction(namespace, 20), headers=auth("score"))
    scored = recorded(http, f"{namespace}tx20")
    label = {"transaction_id": f"{namespace}tx20", "label": "confirmed_fraud"}
    assert http.post("/v1/feedback", json=label, headers=auth("feedback")).status_code == 200
    mine = {"card_id": f"{namespace}card"}
    labelled = _list(http, **mine, labelled="true").json()["decisions"]
    assert [d["label"] for d in labelled] == ["confirmed_fraud"]
    assert _list(http, **mine, labelled="false").json()["decisions"] == []
    same = _list(http, **mine, decision=scored["decision"], degraded="false").json()
    assert [d["transaction_id"] for d in same["decisions"]] == [f"{namespace}tx20"]
    until = scored["decided_at"]
    assert _list(http, **mine, until=until).json()["decisions"] == []  # [from, until)
    assert len(_list(http, **mine, **{"from": until}).json()["decisions"]) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"from": "2026-01-01T00:00:00"}, "from"),
        ({"until": "yesterday"}, "until"),
        ({"degraded": "perhaps"}, "degraded"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_filters_are_422_naming_the_parameter(
    http: httpx.Client, query: dict[str, str], field: str
) -> None:
    reply = _list(http, **query)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert field in reply.json()["errors"][0]["field"]


def test_listing_needs_a_read_scope(http: httpx.Client) -> None:
    assert _list(http, "feedback").status_code == 403
    assert _list(http, "score").status_code == 200


def test_a_decision_not_yet_recorded_is_answered_from_its_replay_record(
    http: httpx.Client, namespace: str
) -> None:
    scored = http.post("/v1/score", json=transaction(namespace, 30), headers=auth("score")).json()
    early = http.get(f"/v1/decisions/{namespace}tx30", headers=auth("analyst")).json()
    assert early["score"] == scored["score"]
    later = recorded(http, f"{namespace}tx30")
    assert later["recorded"] is True and later["score"] == scored["score"]
