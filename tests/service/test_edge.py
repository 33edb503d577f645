"""The edge end to end (real uvicorn, real HTTP, real Redis): card numbers in every field,
bodies that mean two things, event-time bounds, what 4xx answers and logs say, /docs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import orjson
import pytest
import redis

from history.card_numbers import looks_like_card_number
from service.logs import JsonFormatter
from service.middleware import new_request_id
from tests.service.conftest import Backend, auth, transaction
from tests.waiting import wait_until

pytestmark = pytest.mark.redis

PAN = "4111111111111111"
JSON = {"content-type": "application/json"}
# The same card number as a hostile client would hide it.
HIDDEN_PANS = [
    PAN,
    "tok_4111111111111111",
    "4111.1111.1111.1111",
    "4111-1111-1111-1111",
    "4111\u200b1111\u200b1111\u200b1111",
    "４１１１１１１１１１１１１１１１",
    "5500-0000-0000-0004",
    "cust_378282246310005",
]


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Every log line the service writes while the test runs, as the service formats it."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _fields(reply: httpx.Response) -> list[str]:
    return [error["field"] for error in reply.json().get("errors", [])]


def _hostile_requests(namespace: str, pan: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, json body or {}, field the refusal must name) for one hidden PAN."""
    score: list[tuple[str, dict[str, Any]]] = [
        ("transaction_id", {"transaction_id": pan}),
        ("card.id", {"card": {"id": pan}}),
        ("merchant.id", {"merchant": {"id": pan}}),
        ("customer.id", {"customer": {"id": pan}}),
        ("customer.email_domain", {"customer": {"email_domain": f"{pan}.example.com"}}),
        ("device.id", {"device": {"id": pan}}),
    ]
    requests = [
        ("POST", "/v1/score", transaction(namespace, 40, **change), field)
        for field, change in score
    ]
    requests += [
        ("POST", "/v1/feedback", {"transaction_id": pan, "label": "chargeback"}, "transaction_id"),
        ("GET", f"/v1/decisions/{pan}", {}, "transaction_id"),
        ("POST", "/v1/admin/lists/blocked_cards", {"entries": ["ok", pan]}, "entries[1]"),
        ("POST", "/v1/admin/policy/validate", {"text": f"# {pan}\n"}, "text"),
    ]
    return requests


def _scope_of(path: str) -> str:
    if path.startswith("/v1/admin"):
        return "admin"
    return "feedback" if path == "/v1/feedback" else "score"


def _redis_texts(url: str) -> Iterator[str]:
    """Every key name and every value of every key (strings, hashes, sets, lists, streams)."""
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(count=1000):
        kind = cast(bytes, client.type(key)).decode()
        values: list[bytes] = [key]
        if kind == "string":
            values.append(cast(bytes | None, client.get(key)) or b"")
        elif kind == "hash":
            pairs = cast(dict[bytes, bytes], client.hgetall(key)).items()
            values += [part for pair in pairs for part in pair]
        elif kind == "set":
            values += cast(set[bytes], client.smembers(key))
        elif kind == "zset":
            values += cast(list[bytes], client.zrange(key, 0, -1))
        elif kind == "list":
            values += cast(list[bytes], client.lrange(key, 0, -1))
        elif kind == "stream":
            for _, entry in cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(key)):
                values += [part for pair in entry.items() for part in pair]
        yield from (value.decode("utf-8", errors="replace") for value in values)


def test_a_hostile_run_leaves_no_card_number_in_redis_logs_or_answers(
    http: httpx.Client, service_backend: Backend, namespace: str, logs: io.StringIO
) -> None:
    answers: list[str] = []
    valid = http.post("/v1/score", json=transaction(namespace, 41), headers=auth("score"))
    assert valid.status_code == 200, valid.text
    for pan in HIDDEN_PANS:
        for method, path, body, field in _hostile_requests(namespace, pan):
            reply = http.request(method, path, json=body or None, headers=auth(_scope_of(path)))
            assert reply.status_code == 422, (path, field, reply.text)
            assert _fields(reply) == [field], (path, reply.text)
            answers.append(reply.text + str(reply.headers))
        with_header = http.post(
            "/v1/score",
            json=transaction(namespace, 42),
            # the header as raw bytes (httpx takes str or bytes mappings, not a mix)
            headers={
                **{name.encode(): value.encode() for name, value in auth("score").items()},
                b"X-Request-ID": pan.encode(),
            },
        )
        assert with_header.status_code == 422 and _fields(with_header) == ["X-Request-ID"]
        assert with_header.headers["x-request-id"] != pan
        answers.append(with_header.text + str(with_header.headers))
    stored = list(_redis_texts(service_backend.url))
    assert any(f"{namespace}merchant" in text for text in stored)  # the scan reads values
    lines = logs.getvalue().splitlines()
    assert any('"status":422' in line for line in lines)  # the refusals were logged
    for place, texts in (("redis", stored), ("logs", lines), ("answers", answers)):
        for text in texts:
            assert not any(pan in text for pan in HIDDEN_PANS), (place, text)
            for string in _strings(text):
                assert not looks_like_card_number(string), (place, text)


def test_a_request_id_the_service_draws_never_looks_like_a_card_number() -> None:
    # About 1 in 2,000 of 16 random hex digits holds a Luhn-valid run of 13 digits or more:
    # 20,000 draws without the redraw would give about ten.
    ids = [new_request_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert not [i for i in ids if looks_like_card_number(i)]


def _strings(text: str) -> Iterator[str]:
    """The strings of a JSON text (its numbers are not card numbers), else the text itself."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        yield text
        return
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item


def test_a_duplicated_key_is_422_naming_it(http: httpx.Client, namespace: str) -> None:
    good = transaction(namespace, 43)
    raw = httpx.Request("POST", "/", json=good).content.decode()
    twice = raw.replace('"amount":42.5', '"amount":129.9,"amount":9999999')
    assert twice != raw
    reply = http.post(
        "/v1/score",
        content=twice,
        headers={**auth("score"), "content-type": "application/json"},
    )
    assert reply.status_code == 422, reply.text
    assert _fields(reply) == ["amount"]
    nested = raw.replace('"bin":"424242"', '"bin":"424242","country":"US","country":"FR"')
    reply = http.post(
        "/v1/score", content=nested, headers={**auth("score"), "content-type": "application/json"}
    )
    assert reply.status_code == 422 and _fields(reply) == ["card.country"]


@pytest.mark.parametrize(
    ("amount", "currency", "status"),
    [
        (True, "EUR", 422),
        ("129.90", "EUR", 200),
        ("1e3", "EUR", 422),
        ("12,50", "EUR", 422),
        (0.001, "EUR", 422),
        (0.004, "EUR", 422),
        (0.01, "EUR", 200),
        (0.5, "JPY", 422),
        (1, "JPY", 200),
        (None, "EUR", 422),
    ],
)
def test_the_amount_is_a_number_or_decimal_string_of_at_least_one_minor_unit(
    http: httpx.Client, namespace: str, amount: Any, currency: str, status: int
) -> None:
    body = transaction(namespace, 44, amount=amount, currency=currency)
    body["transaction_id"] = f"{namespace}amount-{amount!r}-{currency}"
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == status, reply.text
    if status == 422:
        assert _fields(reply) == ["amount"]


def _now_plus(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


EVENT_TIMES = [
    (_now_plus(0), 200),
    (_now_plus(120), 200),  # within the default skew of 300 s
    (_now_plus(3600), 422),
    ("9999-12-31T23:59:59Z", 422),
    (_now_plus(-3600), 200),
    (_now_plus(-2 * 86_400), 422),
    ("0001-01-01T00:00:00Z", 422),
    (int(datetime.now(UTC).timestamp()), 422),  # unix seconds: not RFC 3339
    (datetime.now(UTC).date().isoformat(), 422),
    (datetime.now(UTC).replace(tzinfo=None).isoformat(), 422),  # no offset
]


@pytest.mark.parametrize("case", range(len(EVENT_TIMES)))
def test_event_time_is_bounded_by_the_server_clock(
    http: httpx.Client, namespace: str, case: int
) -> None:
    timestamp, status = EVENT_TIMES[case]
    body = transaction(namespace, 45, timestamp=timestamp)
    body["transaction_id"] = f"{namespace}time-{case}"
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == status, reply.text
    if status == 422:
        assert _fields(reply) == ["timestamp"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "detail"),
    [
        (b'{"transaction_id": ', "application/json", 400, "line 1 column"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "deeply"),
        (b'{"transaction_id": "\xff\xfe"}', "application/json", 400, "UTF-8"),
        (b'{"transaction_id": "x"}', "text/plain", 415, "application/json"),
        (b"transaction_id=x", "application/x-www-form-urlencoded", 415, "application/json"),
    ],
)
def test_a_body_that_is_not_json_gets_a_clear_problem(
    http: httpx.Client, content: bytes, content_type: str, status: int, detail: str
) -> None:
    reply = http.post(
        "/v1/score", content=content, headers={**auth("score"), "content-type": content_type}
    )
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert detail in problem["detail"]
    assert "errors" not in problem  # no byte offset dressed up as a field
    unauthenticated = http.post(
        "/v1/score", content=content, headers={"content-type": content_type}
    )
    assert unauthenticated.status_code == 401  # authenticate first


def test_no_key_with_an_invalid_body_is_401(http: httpx.Client, namespace: str) -> None:
    for body in ({}, transaction(namespace, 46, amount=True), {"amount": 1, "amount ": 2}):
        assert http.post("/v1/score", json=body).status_code == 401
    for content in (b"{", b'{"a": 1, "a": 2}', b'{"card": {"id": "4111111111111111"}}'):
        malformed = http.post("/v1/score", content=content, headers=JSON)
        assert malformed.status_code == 401, malformed.text
    wrong_scope = http.post("/v1/score", content=b"{", headers=auth("feedback"))
    assert wrong_scope.status_code == 403


def test_a_4xx_is_logged_with_its_problem_and_field_never_the_value(
    http: httpx.Client, namespace: str, logs: io.StringIO
) -> None:
    body = transaction(namespace, 47, channel="carrier-pigeon-xyz")
    reply = http.post("/v1/score", json=body, headers=auth("score"))
    assert reply.status_code == 422
    request_id = reply.headers["x-request-id"]

    def logged() -> list[str]:  # the access line may follow the answer by a moment
        return [line for line in logs.getvalue().splitlines() if request_id in line]

    wait_until(lambda: bool(logged()), "the 4xx was logged")
    line = logged()[0]
    assert '"problem":"Invalid request"' in line and '"fields":["channel"]' in line
    assert "carrier-pigeon-xyz" not in line


def test_docs_work_offline_with_the_bearer_scheme_and_every_error(http: httpx.Client) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        served = http.get(f"/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 100_000
    schema = http.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    score = schema["paths"]["/v1/score"]["post"]
    assert score["security"] == [{"bearer": []}]
    assert {"400", "401", "413", "415", "422"} <= set(score["responses"])
    assert "security" not in schema["paths"]["/healthz"]["get"]
