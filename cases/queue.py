"""Reading the review queue: one case with its decisions and events, cases filtered a page at
a time, and the queue's health.

`cases.store` writes the cases -> `find_case`, `case_events`, `case_decisions`, `list_cases`
(routes, console pages) / `queue_health` (the metrics, measured at each scrape with one
aggregate over the unresolved cases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from cases.errors import CaseCursorError
from cases.store import CASE_COLUMNS, CASE_OF_DECISION
from record.pages import Keyset

# Every filter is optional: NULL switches it off (run unprepared, as `record.decisions` does).
# Oldest first, as a queue is worked; the cursor is the last row's key.
LIST = f"""
SELECT {CASE_COLUMNS}
FROM cases c
WHERE (%(status)s::text IS NULL OR c.status = %(status)s
       OR (%(status)s = 'unresolved' AND c.status <> 'resolved'))
  AND (%(assignee)s::text IS NULL OR c.assignee = %(assignee)s)
  AND (%(min_age_seconds)s::float8 IS NULL
       OR c.opened_at <= clock_timestamp() - make_interval(secs => %(min_age_seconds)s))
  AND (%(rule)s::text IS NULL OR %(rule)s = ANY(c.rules_matched))
  AND (%(min_score)s::float8 IS NULL OR c.score >= %(min_score)s)
  AND (%(max_score)s::float8 IS NULL OR c.score <= %(max_score)s)
  AND (%(card_id)s::text IS NULL OR c.card_id = %(card_id)s)
  AND (%(after_at)s::timestamptz IS NULL
       OR (c.opened_at, c.case_id) > (%(after_at)s, %(after_id)s::bigint))
ORDER BY c.opened_at, c.case_id
LIMIT %(limit)s
"""
FIND = f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.case_id = %s"
EVENTS = """
SELECT event_id, case_id, kind, actor, at, status, assignee, resolution, transaction_id, note
FROM case_events WHERE case_id = %s ORDER BY event_id
"""
# The decisions of a case; `decision` is NULL for one that has aged out of the record.
DECISIONS = """
SELECT l.transaction_id, l.decided_at, l.linked_at, d.decision, d.score, d.rules_matched
FROM case_decisions l
LEFT JOIN decisions d ON d.decided_at = l.decided_at AND d.transaction_id = l.transaction_id
WHERE l.case_id = %s
ORDER BY l.decided_at, l.transaction_id
"""
CASE_PAGES = Keyset("opened_at", "case_id", int, "cases", CaseCursorError)
# Age buckets of the unresolved cases (upper bounds, seconds): 1 h, 4 h, 1 day, 7 days.
AGE_BUCKETS = (3_600, 14_400, 86_400, 604_800)
AGE_LABELS = ("0-1h", "1h-4h", "4h-1d", "1d-7d", "7d+")
HEALTH = """
SELECT status, width_bucket(extract(epoch FROM clock_timestamp() - opened_at)::float8,
                            %s::float8[]) AS bucket, count(*)::int AS cases,
       max(extract(epoch FROM clock_timestamp() - opened_at))::float8 AS oldest_seconds
FROM cases WHERE status <> 'resolved'
GROUP BY 1, 2
"""


@dataclass(frozen=True)
class CaseFilter:
    """The filters of `GET /v1/cases`; None leaves one out."""

    status: str | None = None  # open, assigned, resolved, or unresolved (open or assigned)
    assignee: str | None = None
    min_age_seconds: float | None = None
    rule: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    card_id: str | None = None


@dataclass(frozen=True)
class CasePage:
    cases: list[dict[str, Any]]
    next_cursor: str | None  # None on the last page


async def list_cases(
    connection: AsyncConnection, filters: CaseFilter, *, cursor: str | None = None, limit: int = 50
) -> CasePage:
    """One page of cases, oldest first; pass `next_cursor` back for the next one.

    Raises `CaseCursorError` for a cursor this function did not hand out.
    """
    found, next_cursor = await CASE_PAGES.page(connection, LIST, filters.__dict__, cursor, limit)
    return CasePage(found, next_cursor)


@dataclass(frozen=True)
class QueueHealth:
    """Unresolved cases by status and age bucket (`AGE_LABELS`), and the oldest one's age."""

    unresolved: dict[tuple[str, str], int]
    oldest_seconds: float  # 0 with no unresolved case


async def queue_health(connection: AsyncConnection) -> QueueHealth:
    cursor = await connection.execute(HEALTH, (list(AGE_BUCKETS),))
    unresolved = {(s, a): 0 for s in ("open", "assigned") for a in AGE_LABELS}
    oldest = 0.0
    for status, bucket, count, oldest_seconds in await cursor.fetchall():
        unresolved[(status, AGE_LABELS[bucket])] = count
        oldest = max(oldest, oldest_seconds)
    return QueueHealth(unresolved, oldest)


async def find_case(connection: AsyncConnection, case_id: int) -> dict[str, Any] | None:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(FIND, (case_id,))
    return await cursor.fetchone()


async def case_events(connection: AsyncConnection, case_id: int) -> list[dict[str, Any]]:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(EVENTS, (case_id,))
    return await cursor.fetchall()


async def case_decisions(connection: AsyncConnection, case_id: int) -> list[dict[str, Any]]:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(DECISIONS, (case_id,))
    return await cursor.fetchall()


async def case_of_decision(connection: AsyncConnection, transaction_id: str) -> int | None:
    """The case a decision belongs to (opened on it or linked to it); None when none."""
    cursor = await connection.execute(CASE_OF_DECISION, (transaction_id,))
    row = await cursor.fetchone()
    return None if row is None else int(row[0])
