"""The review queue and case pages over HTTP: filters, sorting, the moves an analyst makes and
who may make them. The analyst's day in a browser is test_analyst_day.py."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.console.conftest import console_for, reviewed, scored
from tests.service.conftest import auth

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def test_the_queue_lists_the_cases_the_record_opened(http: httpx.Client, namespace: str) -> None:
    decision, case_id = reviewed(http, namespace, 1)
    console = console_for(http, "analyst")
    page = console.get("/console/queue", params={"card_id": f"{namespace}card"})
    assert page.status_code == 200
    assert f'data-case="{case_id}"' in page.text and "disposable_email" in page.text
    resolved_only = console.get(
        "/console/queue", params={"card_id": f"{namespace}card", "status": "resolved"}
    )
    assert f'data-case="{case_id}"' not in resolved_only.text
    case_page = console.get(f"/console/cases/{case_id}")
    assert case_page.status_code == 200
    assert decision["transaction_id"] in case_page.text
    assert "BLOCK_LISTED_EMAIL_DOMAIN" in case_page.text
    other = scored(http, f"{namespace}o", 9, device={"id": f"{namespace}dev", "ip_country": "FR"})
    device_table = console.get(f"/console/cases/{case_id}").text.split('<table class="device">')[1]
    assert other["transaction_id"] in device_table.split("</table>")[0]


def test_bad_queue_filters_are_a_422_naming_the_field(http: httpx.Client) -> None:
    console = console_for(http, "analyst")
    for query, field in (({"status": "lost"}, "status"), ({"min_score": "2"}, "min_score"),
                         ({"older_than": "soon"}, "older_than"),
                         ({"older_than": "99999999w"}, "older_than")):  # fmt: skip
        reply = console.get("/console/queue", params=query)
        assert reply.status_code == 422 and f"{field}:" in reply.text


def test_the_queue_sorts_by_score(http: httpx.Client, namespace: str) -> None:
    console = console_for(http, "analyst")
    for number, card, amount in ((2, "a", 12.0), (3, "b", 1900.0), (7, "c", 300.0)):
        reviewed(http, f"{namespace}{card}", number, amount=amount)
    for order in ("desc", "asc"):
        query = {"rule": "disposable_email", "sort": "score", "order": order}
        text = console.get("/console/queue", params=query).text
        scores = [float(cell.split("<")[0]) for cell in text.split('<td class="number">')[1:]]
        assert len(set(scores)) >= 2, scores
        assert scores == sorted(scores, reverse=order == "desc")


def test_an_analyst_claims_and_resolves_and_the_label_is_recorded(
    http: httpx.Client, namespace: str
) -> None:
    decision, case_id = reviewed(http, namespace, 4)
    console = console_for(http, "analyst")
    claimed = console.post(f"/console/cases/{case_id}/claim", {"next": "/console/queue"})
    assert claimed.status_code == 303 and claimed.headers["location"] == "/console/queue"
    page = console.get(f"/console/cases/{case_id}").text
    assert '<dd class="assignee">test-analyst</dd>' in page
    resolved = console.post(
        f"/console/cases/{case_id}/resolve",
        {"resolution": "legitimate", "note": "customer <i>called</i>"},
    )
    assert resolved.status_code == 303
    page = console.get(f"/console/cases/{case_id}").text
    assert "resolved: legitimate" in page
    assert "customer &lt;i&gt;called&lt;/i&gt;" in page  # the note is text
    record = http.get(f"/v1/decisions/{decision['transaction_id']}", headers=auth("analyst"))
    label = record.json()["label"]
    assert (label["kind"], label["source"], label["reported_by"]) == (
        "confirmed_legitimate", "analyst", "test-analyst",
    )  # fmt: skip


def test_a_move_the_state_forbids_is_a_409_page_naming_the_state(
    http: httpx.Client, namespace: str
) -> None:
    _, case_id = reviewed(http, namespace, 5)
    console = console_for(http, "analyst")
    assert console.post(f"/console/cases/{case_id}/reopen", {}).status_code == 409
    page = console.post(f"/console/cases/{case_id}/reopen", {})
    assert "is open: it cannot reopen now" in html.unescape(page.text)
    assert console.post(f"/console/cases/{case_id}/note", {"note": " "}).status_code == 422
    assert console.post(f"/console/cases/{case_id}/fly", {}).status_code == 404
    assert console.get("/console/cases/999999999").status_code == 404
    assert console.get(f"/console/cases/{2**64}").status_code == 422


def test_moves_need_the_analyst_scope_and_the_token(http: httpx.Client, namespace: str) -> None:
    _, case_id = reviewed(http, namespace, 6)
    admin = console_for(http, "admin")
    assert admin.get(f"/console/cases/{case_id}").status_code == 200  # an admin may look
    refused = admin.post(f"/console/cases/{case_id}/claim", {})
    assert refused.status_code == 403 and "lacks the" in refused.text
    analyst = console_for(http, "analyst")
    forged = analyst.post(f"/console/cases/{case_id}/claim", {}, token=False)
    assert forged.status_code == 403
    page = analyst.get(f"/console/cases/{case_id}").text
    assert '<dd class="assignee">nobody</dd>' in page


def test_an_analyst_opens_a_case_by_hand_on_a_decision(http: httpx.Client, namespace: str) -> None:
    decision = scored(http, namespace, 8)
    assert decision["decision"] == "approve"
    console = console_for(http, "analyst")
    path = f"/console/decisions/{decision['transaction_id']}"
    assert "Open a case on it" in console.get(path).text
    opened = console.post(f"{path}/case", {"note": "odd basket"})
    assert opened.status_code == 303
    case_page = console.get(opened.headers["location"])
    assert "odd basket" in case_page.text and decision["transaction_id"] in case_page.text
    again = console.get(path).text
    assert "Open a case on it" not in again and opened.headers["location"] in again
