"""The cases' tables (`cases`, `case_decisions`, `case_events`): every statement that writes
them, and the reads of one case.

opening hook / manual open -> `open_or_link`; `cases.machine` -> `lock` -> `update` ->
`add_event`, the one function every change of every case goes through (in its transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

CASE_COLUMNS = """
  c.case_id, c.status, c.resolution, c.assignee, c.transaction_id, c.card_id, c.device_id,
  c.decided_at, c.score, c.rules_matched, c.opened_by, c.opened_at, c.updated_at,
  c.resolved_at, c.resolved_by,
  extract(epoch FROM clock_timestamp() - c.opened_at)::float8 AS age_seconds
"""
OPEN = """
INSERT INTO cases (status, transaction_id, card_id, device_id, decided_at, score,
                   rules_matched, opened_by)
VALUES ('open', %(transaction_id)s, %(card_id)s, %(device_id)s, %(decided_at)s, %(score)s,
        %(rules_matched)s, %(actor)s)
ON CONFLICT (card_id) WHERE status <> 'resolved' DO NOTHING
RETURNING case_id
"""
# A separate statement after OPEN's conflict: it sees the case the other transaction committed.
UNRESOLVED_OF_CARD = "SELECT case_id FROM cases WHERE card_id = %s AND status <> 'resolved'"
LINK = """
INSERT INTO case_decisions (case_id, transaction_id, decided_at)
VALUES (%(case_id)s, %(transaction_id)s, %(decided_at)s)
ON CONFLICT (transaction_id) DO NOTHING
RETURNING case_id
"""
# A linked decision raises the case's score to the highest of its decisions and adds its rules.
WIDEN = """
UPDATE cases SET score = greatest(score, %(score)s),
  rules_matched = ARRAY(SELECT DISTINCT unnest(rules_matched || %(rules_matched)s::text[])),
  updated_at = clock_timestamp()
WHERE case_id = %(case_id)s
"""
CASE_OF_DECISION = "SELECT case_id FROM case_decisions WHERE transaction_id = %s"
FIND = f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.case_id = %s"
LOCK = f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.case_id = %s FOR UPDATE"
UPDATE = """
UPDATE cases SET status = %(status)s, assignee = %(assignee)s, resolution = %(resolution)s,
  resolved_at = CASE WHEN %(status)s = 'resolved' THEN clock_timestamp() END,
  resolved_by = CASE WHEN %(status)s = 'resolved' THEN %(actor)s END,
  updated_at = clock_timestamp()
WHERE case_id = %(case_id)s
RETURNING extract(epoch FROM clock_timestamp() - opened_at)::float8 AS age_seconds
"""
EVENT = """
INSERT INTO case_events (case_id, kind, actor, status, assignee, resolution, transaction_id, note)
VALUES (%(case_id)s, %(kind)s, %(actor)s, %(status)s, %(assignee)s, %(resolution)s,
        %(transaction_id)s, %(note)s)
RETURNING event_id, case_id, kind, actor, at, status, assignee, resolution, transaction_id, note
"""
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


@dataclass(frozen=True)
class CaseDecision:
    """What opening or linking needs of a recorded decision."""

    transaction_id: str
    decided_at: datetime
    card_id: str
    device_id: str | None
    score: float
    rules_matched: list[str]


@dataclass(frozen=True)
class Opened:
    case_id: int
    new: bool  # False: the decision was linked to the card's unresolved case (or was already)


async def open_or_link(
    connection: AsyncConnection, decision: CaseDecision, actor: str, note: str | None = None
) -> Opened:
    """Open a case on `decision`, or link it to its card's unresolved case; a decision that
    belongs to a case already stays there. Run inside the caller's transaction."""
    cursor = await connection.execute(CASE_OF_DECISION, (decision.transaction_id,))
    row = await cursor.fetchone()
    if row is not None:
        return Opened(int(row[0]), new=False)
    values = {**decision.__dict__, "actor": actor}
    cursor = await connection.execute(OPEN, values)
    row = await cursor.fetchone()
    new = row is not None
    if row is None:
        cursor = await connection.execute(UNRESOLVED_OF_CARD, (decision.card_id,))
        row = await cursor.fetchone()
        assert row is not None, "an unresolved case of the card made OPEN conflict"
    case_id = int(row[0])
    await connection.execute(LINK, {**values, "case_id": case_id})
    if not new:
        await connection.execute(WIDEN, {**values, "case_id": case_id})
    await add_event(
        connection,
        case_id,
        "opened" if new else "linked",
        actor,
        status="open" if new else await _status(connection, case_id),
        transaction_id=decision.transaction_id,
        note=note,
    )
    return Opened(case_id, new)


async def _status(connection: AsyncConnection, case_id: int) -> str:
    cursor = await connection.execute("SELECT status FROM cases WHERE case_id = %s", (case_id,))
    row = await cursor.fetchone()
    assert row is not None
    return str(row[0])


async def add_event(
    connection: AsyncConnection,
    case_id: int,
    kind: str,
    actor: str,
    *,
    status: str,
    assignee: str | None = None,
    resolution: str | None = None,
    transaction_id: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Record one change of a case (what every change goes through, in the change's own
    transaction: what else a change starts, an event out, belongs here)."""
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(
        EVENT,
        {
            "case_id": case_id,
            "kind": kind,
            "actor": actor,
            "status": status,
            "assignee": assignee,
            "resolution": resolution,
            "transaction_id": transaction_id,
            "note": note,
        },
    )
    event = await cursor.fetchone()
    assert event is not None
    return event


async def find_case(connection: AsyncConnection, case_id: int) -> dict[str, Any] | None:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(FIND, (case_id,))
    return await cursor.fetchone()


async def lock_case(connection: AsyncConnection, case_id: int) -> dict[str, Any] | None:
    """The case, locked until the caller's transaction ends (a concurrent move waits)."""
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(LOCK, (case_id,))
    return await cursor.fetchone()


async def update_case(
    connection: AsyncConnection,
    case_id: int,
    status: str,
    assignee: str | None,
    resolution: str | None,
    actor: str,
) -> float:
    """Set the case's state; returns its age in seconds (for the time to resolution)."""
    values = {
        "case_id": case_id,
        "status": status,
        "assignee": assignee,
        "resolution": resolution,
        "actor": actor,
    }
    cursor = await connection.execute(UPDATE, values)
    row = await cursor.fetchone()
    assert row is not None
    return float(row[0])


async def case_events(connection: AsyncConnection, case_id: int) -> list[dict[str, Any]]:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(EVENTS, (case_id,))
    return await cursor.fetchall()


async def case_decisions(connection: AsyncConnection, case_id: int) -> list[dict[str, Any]]:
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(DECISIONS, (case_id,))
    return await cursor.fetchall()


async def case_of_decision(connection: AsyncConnection, transaction_id: str) -> int | None:
    cursor = await connection.execute(CASE_OF_DECISION, (transaction_id,))
    row = await cursor.fetchone()
    return None if row is None else int(row[0])
