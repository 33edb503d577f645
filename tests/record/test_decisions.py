"""Recorded decisions against a real PostgreSQL: batches written once, lookups, listings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from record.decisions import (
    DECISION_PAGES,
    DecisionFilter,
    find_decision,
    list_decisions,
)
from record.errors import CursorError
from record.writer import DecisionWriter
from scoring.record_codec import FEATURE_ORDER
from tests.record.conftest import connect, run
from tests.record.records import make_record, record_body

pytestmark = pytest.mark.postgres
NOW_MS = int(time.time() * 1000)


async def write(url: str, bodies: list[bytes]) -> int:
    async with await connect(url) as connection:
        return (await DecisionWriter().write(connection, bodies)).new


def test_write_records_each_transaction_once(record_url: str) -> None:
    first = [record_body(f"tx-{i}") for i in range(10)]
    again = [record_body(f"tx-{i}") for i in range(5, 15)]  # 5 recorded before, 5 new
    assert run(write(record_url, first + first[:3])) == 10  # a repeat within a batch too
    assert run(write(record_url, again)) == 5

    async def count() -> int:
        async with await connect(record_url) as connection:
            page = await list_decisions(connection, DecisionFilter(), limit=500)
            return len(page.decisions)

    assert run(count()) == 15


def test_find_decision_returns_what_was_recorded(record_url: str) -> None:
    record = make_record("tx-find", decided_at_ms=NOW_MS, occurred_at_ms=NOW_MS - 40)
    record["transaction"].update(amount=1234.5, currency="JPY", customer_account_age_days=9)
    run(write(record_url, [__import__("orjson").dumps(record)]))

    async def find() -> dict[str, Any] | None:
        async with await connect(record_url) as connection:
            return await find_decision(connection, "tx-find")

    found = run(find())
    assert found is not None
    assert found["decided_at"] == datetime.fromtimestamp(NOW_MS / 1000, UTC)
    assert found["occurred_at"] == datetime.fromtimestamp((NOW_MS - 40) / 1000, UTC)
    assert found["amount_minor"] == 1235  # JPY has no minor unit: rounded half up
    assert found["currency"] == "JPY"
    assert found["customer_account_age_days"] == 9
    assert found["features"] == dict(zip(FEATURE_ORDER, record["features"], strict=True))
    assert found["reasons"] == record["reasons"]
    for name in ("decision", "score", "margin", "rules_matched", "shadow_rules_matched",
                 "model_version", "policy_version", "fingerprint", "timings_us"):  # fmt: skip
        assert found[name] == record[name], name
    assert run(_find_missing(record_url)) is None


async def _find_missing(url: str) -> dict[str, Any] | None:
    async with await connect(url) as connection:
        return await find_decision(connection, "tx-never")


def test_amounts_are_kept_in_minor_units(record_url: str) -> None:
    cases = {"EUR": (12.34, 1234), "JPY": (500.0, 500), "KWD": (1.234, 1234)}
    bodies = [
        record_body(f"tx-{code}", transaction={"amount": amount, "currency": code})
        for code, (amount, _) in cases.items()
    ]
    run(write(record_url, bodies))

    async def amounts() -> dict[str, tuple[int, float]]:
        async with await connect(record_url) as connection:
            found = {}
            for code in cases:
                row = await find_decision(connection, f"tx-{code}")
                assert row is not None
                found[code] = (row["amount_minor"], row["amount"])
            return found

    assert run(amounts()) == {code: (minor, amount) for code, (amount, minor) in cases.items()}


def _listing_fixture(url: str) -> None:
    bodies = []
    for i in range(30):
        bodies.append(
            record_body(
                f"tx-{i:02d}",
                decided_at_ms=NOW_MS - i * 60_000,
                decision="review" if i % 3 == 0 else "approve",
                rules_matched=["rule_a"] if i % 5 == 0 else [],
                shadow_rules_matched=["rule_s"] if i % 7 == 0 else [],
                degraded=i % 4 == 0,
                transaction={
                    "card_id": "card-x" if i < 10 else "card-y",
                    "merchant_id": "m-1" if i % 2 else "m-2",
                },
            )
        )
    run(write(url, bodies))


def _ids(url: str, filters: DecisionFilter, limit: int = 500) -> list[str]:
    async def fetch() -> list[str]:
        async with await connect(url) as connection:
            page = await list_decisions(connection, filters, limit=limit)
            return [row["transaction_id"] for row in page.decisions]

    return run(fetch())


def test_list_decisions_filters(record_url: str) -> None:
    _listing_fixture(record_url)
    every = [f"tx-{i:02d}" for i in range(30)]  # newest first
    assert _ids(record_url, DecisionFilter()) == every
    assert _ids(record_url, DecisionFilter(decision="review")) == every[::3]
    assert _ids(record_url, DecisionFilter(rule="rule_a")) == every[::5]
    assert _ids(record_url, DecisionFilter(shadow_rule="rule_s")) == every[::7]
    assert _ids(record_url, DecisionFilter(degraded=True)) == every[::4]
    assert _ids(record_url, DecisionFilter(card_id="card-x")) == every[:10]
    assert _ids(record_url, DecisionFilter(merchant_id="m-1")) == every[1::2]
    since = datetime.fromtimestamp((NOW_MS - 5 * 60_000) / 1000, UTC)
    until = datetime.fromtimestamp((NOW_MS - 1 * 60_000) / 1000, UTC)
    assert _ids(record_url, DecisionFilter(since=since, until=until)) == every[2:6]
    both = DecisionFilter(decision="review", card_id="card-x")
    assert _ids(record_url, both) == ["tx-00", "tx-03", "tx-06", "tx-09"]


def test_list_decisions_pages_cover_everything_once(record_url: str) -> None:
    _listing_fixture(record_url)

    async def every_page() -> list[list[str]]:
        pages, cursor = [], None
        async with await connect(record_url) as connection:
            while True:
                page = await list_decisions(connection, DecisionFilter(), cursor=cursor, limit=7)
                pages.append([row["transaction_id"] for row in page.decisions])
                cursor = page.next_cursor
                if cursor is None:
                    return pages

    pages = run(every_page())
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    assert [tid for page in pages for tid in page] == [f"tx-{i:02d}" for i in range(30)]


@pytest.mark.parametrize("cursor", ["not-base64!", "bm90IGpzb24", "WyIyMDI2LTAxLTAxIiwxXQ"])
def test_decode_cursor_refuses_foreign_cursors(cursor: str) -> None:
    with pytest.raises(CursorError):
        DECISION_PAGES.decode(cursor)


def test_partitions_are_created_for_the_days_a_batch_needs(record_url: str) -> None:
    old = NOW_MS - int(timedelta(days=40).total_seconds() * 1000)
    assert run(write(record_url, [record_body("tx-old", decided_at_ms=old)])) == 1
    assert _ids(record_url, DecisionFilter(until=datetime.now(UTC) - timedelta(days=39))) == [
        "tx-old"
    ]


def test_texts_and_lists_keep_every_character(record_url: str) -> None:
    odd = ['quote " and \\ backslash', "tab\tand\nline", "comma, {brace}", "ünïcødé ✓", ""]
    body = record_body(
        "tx-odd",
        rules_matched=odd,
        shadow_rules_matched=["NULL"],
        failed_rules=odd[:2],
        degraded_cause='cause "quoted"\t\\',
        transaction={"card_id": "card\t\\N", "email_domain": None, "customer_id": "ü"},
    )
    assert run(write(record_url, [body])) == 1

    async def find() -> dict[str, Any] | None:
        async with await connect(record_url) as connection:
            return await find_decision(connection, "tx-odd")

    found = run(find())
    assert found is not None
    assert found["rules_matched"] == odd
    assert found["shadow_rules_matched"] == ["NULL"]  # a text, not a NULL element
    assert found["failed_rules"] == odd[:2]
    assert found["degraded_cause"] == 'cause "quoted"\t\\'
    assert (found["card_id"], found["email_domain"], found["customer_id"]) == (
        "card\t\\N",
        None,
        "ü",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_account_age_days", 2**40),  # out of the int4 column: never wrapped around
        ("customer_account_age_days", "12"),
        ("card_id", 1234),
        ("merchant_country", ["FR"]),
        ("amount", "12.50"),
        ("amount", 1e300),  # out of bigint minor units
    ],
)
def test_a_value_of_the_wrong_type_makes_the_record_malformed(
    record_url: str, field: str, value: object
) -> None:
    bad = record_body("tx-bad", transaction={field: value})

    async def scenario() -> tuple[int, list[tuple[int, str]]]:
        async with await connect(record_url) as connection:
            written = await DecisionWriter().write(connection, [record_body("tx-good"), bad])
            return written.new, written.malformed

    new, malformed = run(scenario())
    assert new == 1
    assert [index for index, _ in malformed] == [1]
    assert field in malformed[0][1]  # the reason names the field
    assert _ids(record_url, DecisionFilter()) == ["tx-good"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("score", "0.5"), ("degraded", 0), ("rules_matched", "rule_a"), ("rules_matched", [1])],
)
def test_a_record_field_of_the_wrong_type_makes_the_record_malformed(
    record_url: str, field: str, value: object
) -> None:
    async def scenario() -> tuple[int, list[tuple[int, str]]]:
        async with await connect(record_url) as connection:
            written = await DecisionWriter().write(
                connection, [record_body("tx-bad", **{field: value})]
            )
            return written.new, written.malformed

    new, malformed = run(scenario())
    assert new == 0
    assert len(malformed) == 1
    assert field in malformed[0][1]
