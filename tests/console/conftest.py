"""Fixtures of the console tests: a real service (uvicorn, Redis, PostgreSQL) with decisions
in its record, a session logged in over HTTP, and a real Chromium driven by Playwright.

Playwright cannot download its own browsers here: the tests drive Debian's `chromium` package
(`.ci/run` installs it). Without one, the browser tests skip and say why.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from feature_store.redis_server import RedisServer
from tests.service.conftest import (
    KEYS,
    RunningService,
    auth,
    case_of,
    recorded,
    settings_for,
    transaction,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = (
    "no Chromium on this machine: the console's browser tests are skipped "
    "(apt-get install chromium, as .ci/run does)"
)
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session", autouse=True)
def _record(service_database_url: str) -> str:
    """Every service records into the session's database (`RISKSCORE_DATABASE_URL`)."""
    return service_database_url


@pytest.fixture(scope="module")
def console_redis() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="module")
def service(console_redis: str) -> Iterator[RunningService]:
    running = RunningService.start(settings_for(console_redis))
    yield running
    running.stop()


@pytest.fixture
def http(service: RunningService) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client


@dataclass
class Console:
    """A logged-in console session over plain HTTP: the cookie sent by hand (httpx keeps no
    `Secure` cookie over http://), the CSRF token read from a page."""

    http: httpx.Client
    cookie: str
    csrf_token: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, headers={"Cookie": f"rs_console={self.cookie}"}, **kwargs)

    def post(
        self, path: str, data: dict[str, str], *, token: bool = True, **headers: str
    ) -> httpx.Response:
        fields = {**data, **({"csrf_token": self.csrf_token} if token else {})}
        sent = {"Cookie": f"rs_console={self.cookie}", **headers}
        return self.http.post(path, data=fields, headers=sent)


def login_form(http: httpx.Client) -> tuple[str, str]:
    """The log-in page's token and its cookie."""
    form = http.get("/console/login")
    assert form.status_code == 200, form.text
    match = CSRF_INPUT.search(form.text)
    assert match is not None, form.text
    return match.group(1), form.cookies["rs_console_login"]


def log_in(http: httpx.Client, key: str) -> httpx.Response:
    token, cookie = login_form(http)
    http.cookies.clear()
    return http.post(
        "/console/login",
        data={"api_key": key, "csrf_token": token, "next": "/console/decisions"},
        headers={"Cookie": f"rs_console_login={cookie}"},
    )


def console_for(http: httpx.Client, scope: str) -> Console:
    reply = log_in(http, KEYS[scope])
    assert reply.status_code == 303, reply.text
    cookie = reply.cookies["rs_console"]
    page = http.get("/console/decisions", headers={"Cookie": f"rs_console={cookie}"})
    match = CSRF_INPUT.search(page.text)
    assert match is not None, page.text
    return Console(http, cookie, match.group(1))


# The default policy sends a disposable e-mail domain to review, and a review opens a case.
REVIEW_CUSTOMER = {"id": "cust", "email_domain": "mailinator.com"}


def reviewed(
    http: httpx.Client, namespace: str, number: int, **changes: Any
) -> tuple[dict[str, Any], int]:
    """A decision in review, recorded, and the case it opened (its id)."""
    decision = scored(http, namespace, number, customer=REVIEW_CUSTOMER, **changes)
    assert decision["decision"] == "review", decision
    return decision, int(case_of(http, f"{namespace}card")["case_id"])


def recorded_features(http: httpx.Client, transaction_id: str) -> dict[str, Any]:
    """The features a recorded decision was made with."""
    found = recorded(http, transaction_id)
    features: dict[str, Any] = found["features"]
    return features


def scored(http: httpx.Client, namespace: str, number: int, **changes: Any) -> dict[str, Any]:
    """A transaction scored by the service and recorded in PostgreSQL."""
    body = transaction(namespace, number, **changes)
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = recorded(http, body["transaction_id"])
    assert found["recorded"], found
    return found
