"""The console in a real Chromium: log in through the form, every page renders the service's
real data and keeps to its CSP, and what a transaction carries is shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.console.conftest import CHROMIUM, NO_CHROMIUM, scored
from tests.service.conftest import KEYS, RunningService, auth

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM),
]

if CHROMIUM is not None:
    from playwright.sync_api import Browser, expect

    from tests.console.browser import WatchedPage, chromium, watched


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    with chromium(CHROMIUM) as running:
        yield running


def base_url(service: RunningService) -> str:
    # Chromium keeps `Secure` cookies over plain HTTP on localhost only (a secure context).
    return service.url.replace("127.0.0.1", "localhost")


def logged_in(browser: Browser, service: RunningService, scope: str) -> WatchedPage:
    watched_page = watched(browser, base_url(service))
    page = watched_page.page
    page.goto("/console/decisions")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.fill("input[name=api_key]", KEYS[scope])
    page.click("button[type=submit]")
    page.wait_for_url("**/console/decisions")
    return watched_page


def test_a_bad_key_is_refused_in_the_browser(browser: Browser, service: RunningService) -> None:
    watched_page = watched(browser, base_url(service))
    page = watched_page.page
    page.goto("/console/login")
    page.fill("input[name=api_key]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("not valid")
    page.fill("input[name=api_key]", KEYS["score"])
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("neither the 'analyst' nor the 'admin'")
    assert watched_page.violations() == []


def test_every_page_renders_real_data_within_its_csp(
    browser: Browser, service: RunningService, http: httpx.Client, namespace: str
) -> None:
    # A high amount from abroad: the default policy's review rule gives it a reason (model
    # reasons come only from the review band up, which no single payment reaches here).
    abroad = {"id": f"{namespace}dev", "ip": "203.0.113.7", "ip_country": "US"}
    first = scored(http, namespace, 1, amount=2600.0, device=abroad)
    assert first["reasons"], first
    scored(http, namespace, 2, amount=1900.0)
    label = {"transaction_id": first["transaction_id"], "label": "confirmed_fraud"}
    assert http.post("/v1/feedback", json=label, headers=auth("feedback")).status_code == 200
    watched_page = logged_in(browser, service, "analyst")
    page = watched_page.page

    page.fill("input[name=card_id]", f"{namespace}card")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile(rf"card_id={namespace}card"))
    rows = page.locator("table.decisions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(f"{namespace}tx2")
    expect(rows.nth(1)).to_contain_text("confirmed_fraud")

    page.click(f"text={namespace}tx1")
    expect(page).to_have_url(re.compile(rf"/console/decisions/{namespace}tx1$"))
    expect(page.locator("dd.label")).to_have_text("confirmed_fraud")
    expect(page.locator("ol.reasons li").first).to_contain_text(first["reasons"][0]["code"])
    expect(page.locator("table.labels")).to_contain_text("test-feedback")
    expect(page.locator("figure.timeline circle")).to_have_count(2)

    page.click("nav >> text=Rule health")
    expect(page.locator("p.summary")).to_contain_text(first["policy_version"])
    expect(page.locator("figure.chart svg g.bar").first).to_be_visible()
    expect(page.locator("h2", has_text="Shadow rules")).to_be_visible()

    page.click("nav >> text=Status")
    expect(page.locator("dd.model-version")).to_have_text(first["model_version"])
    expect(page.locator("dd.policy-version")).to_contain_text(first["policy_version"])
    expect(page.locator("dd.lag")).to_contain_text("decisions")

    page.click("nav >> text=Lists")
    expect(page.locator("table.lists")).to_contain_text("blocked_cards")
    assert watched_page.violations() == []
    assert [e for e in watched_page.errors if "Failed to load" not in e] == []


def test_what_a_transaction_carries_is_shown_as_text(
    browser: Browser, service: RunningService, http: httpx.Client, namespace: str
) -> None:
    hostile = "<script>alert(1)</script><img/src=x/onerror=alert(2)>"
    decision = scored(http, namespace, 3, merchant={"id": hostile, "country": "FR"})
    watched_page = logged_in(browser, service, "analyst")
    page = watched_page.page
    page.goto(f"/console/decisions/{decision['transaction_id']}")
    expect(page.locator("dl.facts")).to_contain_text(hostile)
    page.goto(f"/console/decisions?card_id={namespace}card")
    expect(page.locator("table.decisions")).to_contain_text(hostile)
    assert page.locator("main script, main img").count() == 0
    assert watched_page.dialogs == []
    assert watched_page.violations() == []


def test_an_admin_changes_a_list_in_the_browser(
    browser: Browser, service: RunningService, namespace: str
) -> None:
    watched_page = logged_in(browser, service, "admin")
    page = watched_page.page
    page.goto("/console/lists/blocked_devices")
    page.fill("textarea[name=entries]", f"{namespace}dev-a\n{namespace}dev-b")
    page.fill("input[name=note]", "seen in case 12")
    page.click("form.add button[type=submit]")
    entries = page.locator("table.entries tbody tr")
    expect(entries.filter(has_text=f"{namespace}dev-a")).to_contain_text("seen in case 12")
    page.fill("textarea[name=entries]", f"{namespace}dev-c")
    page.fill("input[name=expires_at]", "2001-01-01T00:00")
    page.click("form.add button[type=submit]")
    expect(page.locator(".error")).to_contain_text("is in the past")  # a 422 page is shown
    entries.filter(has_text=f"{namespace}dev-b").locator("button.remove").click()
    expect(page.locator("table.entries")).not_to_contain_text(f"{namespace}dev-b")
    expect(page.locator("table.entries")).to_contain_text(f"{namespace}dev-a")
    assert watched_page.violations() == []
