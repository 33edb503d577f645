"""Log-in and log-out over HTTP: who gets a session, what its cookie is, what the audit says."""

from __future__ import annotations

import html

import httpx
import pytest

from feature_store.keys import AUDIT_STREAM
from feature_store.redis_server import RedisServer
from service.console.security import CONTENT_SECURITY_POLICY
from tests.console.conftest import console_for, log_in, login_form
from tests.service.conftest import KEYS, serving, settings_for, stream_entries

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def test_a_bad_key_is_refused_and_audited(http: httpx.Client, console_redis: str) -> None:
    reply = log_in(http, "not-a-key-at-all")
    assert reply.status_code == 401
    assert "not valid" in reply.text and "rs_console=" not in reply.headers.get("set-cookie", "")
    entries = [
        e for e in stream_entries(console_redis, AUDIT_STREAM) if e["action"] == "console.login"
    ]
    assert entries[-1]["outcome"] == "refused" and entries[-1]["actor"] == "anonymous"


@pytest.mark.parametrize("scope", ["score", "feedback"])
def test_a_key_without_analyst_or_admin_is_refused(http: httpx.Client, scope: str) -> None:
    reply = log_in(http, KEYS[scope])
    assert reply.status_code == 403
    assert "neither the 'analyst' nor the 'admin' scope" in html.unescape(reply.text)
    assert "rs_console=" not in reply.headers.get("set-cookie", "")


def test_an_analyst_gets_a_secure_http_only_same_site_session(
    http: httpx.Client, console_redis: str
) -> None:
    reply = log_in(http, KEYS["analyst"])
    assert reply.status_code == 303 and reply.headers["location"] == "/console/decisions"
    cookie = next(c for c in reply.headers.get_list("set-cookie") if c.startswith("rs_console="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite=strict", "path=/console"} <= flags
    session = reply.cookies["rs_console"]
    page = http.get("/console/decisions", headers={"Cookie": f"rs_console={session}"})
    assert page.status_code == 200 and "test-analyst" in page.text
    done = [
        e for e in stream_entries(console_redis, AUDIT_STREAM) if e["action"] == "console.login"
    ]
    assert done[-1]["outcome"] == "done" and done[-1]["actor"] == "test-analyst"


def test_without_a_session_pages_go_to_the_log_in(http: httpx.Client) -> None:
    reply = http.get("/console/rules")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/console/login?next=/console/rules"
    forged = http.get("/console/rules", headers={"Cookie": "rs_console=made-up"})
    assert forged.status_code == 303
    searched = http.get("/console/decisions", params={"card_id": "c1"})
    assert searched.headers["location"] == "/console/login?next=/console/decisions%3Fcard_id%3Dc1"
    posted = http.post("/console/cases/1/claim", data={"csrf_token": "x"})
    assert posted.status_code == 303 and posted.headers["location"].endswith("next=/console/")


def test_log_out_ends_the_session(http: httpx.Client) -> None:
    console = console_for(http, "analyst")
    assert console.get("/console/status").status_code == 200
    reply = console.post("/console/logout", {})
    assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    assert console.get("/console/status").status_code == 303


def test_the_log_in_form_needs_its_own_token(http: httpx.Client) -> None:
    _, cookie = login_form(http)
    reply = http.post(
        "/console/login",
        data={"api_key": KEYS["analyst"], "csrf_token": "guessed"},
        headers={"Cookie": f"rs_console_login={cookie}"},
    )
    assert reply.status_code == 403 and "rs_console=" not in reply.headers.get("set-cookie", "")


def test_log_in_after_the_next_page_stays_in_the_console(http: httpx.Client) -> None:
    token, cookie = login_form(http)
    reply = http.post(
        "/console/login",
        data={"api_key": KEYS["analyst"], "csrf_token": token, "next": "//evil.example/"},
        headers={"Cookie": f"rs_console_login={cookie}"},
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/console/"


def test_failed_log_ins_are_limited_per_address() -> None:
    with RedisServer() as redis_server:
        settings = settings_for(
            redis_server.url, console_login_attempts=3, console_login_window_seconds=60
        )
        with serving(settings) as running, running.client() as http:
            assert log_in(http, KEYS["analyst"]).status_code == 303  # success does not count
            statuses = [log_in(http, "wrong-key").status_code for _ in range(3)]
            assert statuses == [401, 401, 401]
            limited = log_in(http, KEYS["analyst"])
            assert limited.status_code == 429 and "too many" in limited.text
            assert limited.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_without_redis_the_console_says_so_with_a_503_page() -> None:
    redis_server = RedisServer()
    with redis_server, serving(settings_for(redis_server.url)) as running, running.client() as http:
        console = console_for(http, "analyst")
        redis_server.close()
        reply = console.get("/console/status")
        assert reply.status_code == 503
        assert "keeps the console&#39;s sessions, does not answer" in reply.text
        assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
