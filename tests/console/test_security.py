"""The console's defences over HTTP: the headers on every response, CSRF on every change,
the admin scope for list changes and their audit."""

from __future__ import annotations

import httpx
import pytest

from feature_store.keys import AUDIT_STREAM
from service.console.security import CONTENT_SECURITY_POLICY
from tests.console.conftest import console_for
from tests.service.conftest import stream_entries

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
PAGES = ["/console/decisions", "/console/rules", "/console/lists", "/console/status"]


@pytest.mark.parametrize(
    "path",
    [*PAGES, "/console/login", "/console/static/console.css", "/console/static/htmx/htmx.min.js",
     "/console/no-such-page", "/console/decisions/no-such-transaction"],
)  # fmt: skip
def test_every_console_response_carries_the_strict_csp(http: httpx.Client, path: str) -> None:
    console = console_for(http, "analyst")
    reply = console.get(path)
    assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "same-origin"
    if not path.startswith("/console/static/"):
        assert reply.headers["cache-control"] == "no-store"


def test_the_api_is_left_without_the_console_headers(http: httpx.Client) -> None:
    assert "content-security-policy" not in http.get("/healthz").headers


def test_a_forged_post_without_the_token_is_refused(http: httpx.Client) -> None:
    console = console_for(http, "admin")
    forged = console.post(
        "/console/lists/blocked_cards/add", {"entries": "tok_forged"}, token=False
    )
    assert forged.status_code == 403 and "CSRF" in forged.text
    wrong = console.post(
        "/console/lists/blocked_cards/add", {"entries": "tok_forged", "csrf_token": "x" * 43},
        token=False,
    )  # fmt: skip
    assert wrong.status_code == 403
    listed = console.get("/console/lists/blocked_cards")
    assert "tok_forged" not in listed.text


def test_a_post_from_another_origin_is_refused_even_with_the_token(http: httpx.Client) -> None:
    console = console_for(http, "admin")
    reply = console.post(
        "/console/lists/blocked_cards/add", {"entries": "tok_cross"}, Origin="https://evil.example"
    )
    assert reply.status_code == 403
    assert "tok_cross" not in console.get("/console/lists/blocked_cards").text


def test_an_admin_adds_and_removes_entries_and_both_are_audited(
    http: httpx.Client, console_redis: str, namespace: str
) -> None:
    console = console_for(http, "admin")
    entry = f"{namespace}tok"
    added = console.post(
        "/console/lists/blocked_cards/add",
        {"entries": entry, "expires_at": "2099-01-01T00:00", "note": "chargeback <b>8812</b>"},
    )
    assert added.status_code == 303, added.text
    listed = console.get("/console/lists/blocked_cards").text
    assert entry in listed and "2099-01-01 00:00:00 UTC" in listed
    assert "chargeback &lt;b&gt;8812&lt;/b&gt;" in listed  # the note is text, not markup
    removed = console.post("/console/lists/blocked_cards/remove", {"entry": entry})
    assert removed.status_code == 303
    assert entry not in console.get("/console/lists/blocked_cards").text
    audit = [e for e in stream_entries(console_redis, AUDIT_STREAM) if e.get("via") == "console"]
    assert [(e["action"], e["outcome"], e["actor"]) for e in audit[-2:]] == [
        ("console.list.add", "done", "test-admin"),
        ("console.list.remove", "done", "test-admin"),
    ]


def test_an_analyst_sees_lists_but_cannot_change_them(
    http: httpx.Client, console_redis: str
) -> None:
    console = console_for(http, "analyst")
    page = console.get("/console/lists/blocked_cards")
    assert page.status_code == 200 and "needs a key with the" in page.text
    refused = console.post("/console/lists/blocked_cards/add", {"entries": "tok_analyst"})
    assert refused.status_code == 403 and "lacks the &#39;admin&#39; scope" in refused.text
    audit = stream_entries(console_redis, AUDIT_STREAM)
    last = [e for e in audit if e["action"] == "console.list.add"][-1]
    assert (last["outcome"], last["actor"]) == ("refused", "test-analyst")


def test_a_bad_entry_or_expiry_is_a_422_page_naming_the_problem(http: httpx.Client) -> None:
    console = console_for(http, "admin")
    past = console.post(
        "/console/lists/blocked_cards/add",
        {"entries": "tok_past", "expires_at": "2001-01-01T00:00"},
    )
    assert past.status_code == 422 and "is in the past" in past.text
    bad_ip = console.post("/console/lists/blocked_ips/add", {"entries": "300.1.2.3"})
    assert bad_ip.status_code == 422 and "blocked_ips" in bad_ip.text
    unknown = console.get("/console/lists/no_such_list")
    assert unknown.status_code == 404


def test_a_card_number_in_a_form_or_a_search_is_refused(http: httpx.Client) -> None:
    console = console_for(http, "admin")
    pan = "4111111111111111"
    posted = console.post("/console/lists/blocked_cards/add", {"entries": pan})
    assert posted.status_code == 422 and pan not in posted.text
    searched = console.get("/console/decisions", params={"card_id": pan})
    assert searched.status_code == 422 and pan not in searched.text


def test_console_requests_are_named_by_their_full_path_in_metrics(http: httpx.Client) -> None:
    console = console_for(http, "analyst")
    console.get("/console/status")
    console.get("/console/static/console.js")
    metrics = http.get("/metrics").text
    assert 'route="/console/status",status="200"' in metrics
    assert 'route="/console/static",status="200"' in metrics
    assert 'route="/status"' not in metrics
