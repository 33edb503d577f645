"""The analyst's day in a real Chromium: log in, open the queue, open a case, assign it and
resolve it as fraud with the keyboard, see the label in the record, the card's next score count
it in its label features, and a webhook receiver get the case and the label, signed."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator

import httpx
import pytest

from feature_store.redis_server import RedisServer
from tests.console.conftest import CHROMIUM, NO_CHROMIUM, recorded_features, reviewed, scored
from tests.service.conftest import RunningService, auth, serving, settings_for
from tests.webhooks.receiver import Receiver

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM),
]
SUBSCRIPTIONS = "/v1/admin/webhooks/subscriptions"

if CHROMIUM is not None:
    from playwright.sync_api import Browser, expect

    from tests.console.browser import chromium
    from tests.console.test_pages import logged_in


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    with chromium(CHROMIUM) as running:
        yield running


def test_an_analyst_resolves_a_case_as_fraud_and_the_next_score_knows(
    browser: Browser, service: RunningService, http: httpx.Client, namespace: str
) -> None:
    decision, case_id = reviewed(http, namespace, 1)
    transaction_id = decision["transaction_id"]
    assert recorded_features(http, transaction_id)["card_fraud_count_30d"] == 0
    watched_page = logged_in(browser, service, "analyst")
    page = watched_page.page

    page.click("nav >> text=Queue")
    expect(page.locator("h1")).to_have_text("Review queue")  # swapped in: fill the queue's form
    page.fill("input[name=card_id]", f"{namespace}card")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile(rf"card_id={namespace}card"))
    expect(page.locator("tr[data-row]")).to_have_count(1)
    row = page.locator(f"tr[data-case='{case_id}']")
    expect(row).to_have_class("selected")  # the first row is selected: j/k move from it
    page.keyboard.press("Enter")
    # htmx swaps the page and pushes its address: no load event to wait for, the URL changes.
    expect(page).to_have_url(re.compile(rf"/console/cases/{case_id}$"))
    expect(page.locator("#shortcuts")).to_contain_text("resolve as fraud")

    page.keyboard.press("a")
    expect(page.locator("dd.assignee")).to_have_text("test-analyst")
    page.fill("form.resolve textarea[name=note]", "cardholder denies it; device seen in ring 7")
    page.keyboard.press("Escape")
    page.keyboard.press("f")
    expect(page.locator("h1 .case-status")).to_have_text("resolved: fraud")
    expect(page.locator("table.events")).to_contain_text("device seen in ring 7")
    expect(page.locator("dd.label")).to_have_text("confirmed_fraud")
    assert watched_page.violations() == []

    record = http.get(f"/v1/decisions/{transaction_id}", headers=auth("analyst")).json()
    assert record["label"]["kind"] == "confirmed_fraud"
    assert (record["label"]["source"], record["label"]["reported_by"]) == (
        "analyst",
        "test-analyst",
    )
    following = scored(http, namespace, 2)
    assert recorded_features(http, following["transaction_id"])["card_fraud_count_30d"] == 1


def test_the_queue_is_worked_from_the_keyboard(
    browser: Browser, service: RunningService, http: httpx.Client, namespace: str
) -> None:
    cases = [reviewed(http, f"{namespace}{card}", n)[1] for n, card in ((3, "a"), (4, "b"))]
    watched_page = logged_in(browser, service, "analyst")
    page = watched_page.page
    page.goto("/console/queue?rule=disposable_email&status=open")
    first, second = (page.locator(f"tr[data-case='{case_id}']") for case_id in cases)
    for _ in range(page.locator("tr[data-row]").count()):  # down to the first of ours
        if "selected" in (first.get_attribute("class") or ""):
            break
        page.keyboard.press("j")
    page.keyboard.press("j")
    expect(second).to_have_class("selected")
    page.keyboard.press("k")
    expect(first).to_have_class("selected")
    page.keyboard.press("l")  # resolve the selected case as legitimate, from the queue
    expect(page.locator(f"tr[data-case='{cases[0]}']")).to_have_count(0)  # no longer open
    page.goto(f"/console/cases/{cases[0]}")
    expect(page.locator("h1 .case-status")).to_have_text("resolved: legitimate")
    assert watched_page.violations() == []


def test_a_resolution_in_the_console_reaches_a_webhook_receiver_signed(
    browser: Browser, record_url: str, namespace: str
) -> None:
    """The loop's last step: the case and the label leave as signed events, received by a
    real receiver on a free port that checks every signature."""
    secrets_key = base64.b64encode(os.urandom(32)).decode()
    with RedisServer() as redis_server, Receiver() as receiver:
        settings = settings_for(
            redis_server.url, database_url=record_url, webhook_secrets_key=secrets_key
        )
        with serving(settings) as running, running.client() as http:
            kinds = ["case.resolved", "label.recorded"]
            reply = http.post(SUBSCRIPTIONS, json={"url": receiver.url, "kinds": kinds},
                              headers=auth("admin"))  # fmt: skip
            assert reply.status_code == 201, reply.text
            receiver.secret = reply.json()["secret"]
            decision, case_id = reviewed(http, namespace, 5)
            page = logged_in(browser, running, "analyst").page
            page.goto(f"/console/cases/{case_id}")
            page.keyboard.press("a")
            expect(page.locator("dd.assignee")).to_have_text("test-analyst")
            page.keyboard.press("f")
            expect(page.locator("h1 .case-status")).to_have_text("resolved: fraud")
            got = receiver.wait_for(lambda seen: {r.kind for r in seen} >= set(kinds))
    assert all(event.verified for event in got)
    resolved = next(event for event in got if event.kind == "case.resolved")
    assert resolved.body["data"]["case_id"] == case_id
    assert resolved.body["data"]["resolution"] == "fraud"
    assert resolved.body["data"]["actor"] == "test-analyst"
    label = next(event for event in got if event.kind == "label.recorded")
    assert label.body["data"]["transaction_id"] == decision["transaction_id"]
    assert (label.body["data"]["kind"], label.body["data"]["source"]) == (
        "confirmed_fraud", "analyst",
    )  # fmt: skip
