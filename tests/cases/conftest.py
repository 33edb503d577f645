"""Helpers of the review queue's tests: decisions recorded through the real writer with the
opening hook, against the test's own migrated PostgreSQL (`record_url`)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import AsyncConnection

from cases.opening import open_cases
from record.labels import LabelEvent, add_label
from record.writer import DecisionWriter
from tests.record.records import record_body

DAY_MS = 86_400_000


def review(transaction_id: str, card_id: str, **overrides: Any) -> bytes:
    """A record of a decision in review (the policy said it opens a case) on `card_id`."""
    transaction = {"card_id": card_id, **overrides.pop("transaction", {})}
    options: dict[str, Any] = {"decision": "review", "opens_case": True, **overrides}
    return record_body(transaction_id, transaction=transaction, **options)


async def write(url: str, *bodies: bytes) -> int:
    """Record `bodies` in one batch through the writer and its case hook; the new rows."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        return (await DecisionWriter(hooks=[open_cases]).write(connection, list(bodies))).new


def days_ago_ms(days: float) -> int:
    return int(time.time() * 1000 - days * DAY_MS)


async def record_only(connection: AsyncConnection, event: LabelEvent) -> Any:
    """A labeller for tests of the moves alone: the label event in the record (the service's
    tests check the whole label path, online features included)."""
    return await add_label(connection, event)


def cases_of(url: str, card_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(
            "SELECT case_id, status, transaction_id FROM cases WHERE card_id = %s ORDER BY case_id",
            (card_id,),
        ).fetchall()
