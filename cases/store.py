"""The cases' tables (`cases`, `case_decisions`, `case_events`): every statement that writes
them (the reads are `cases.queue`).

opening hook -> `open_or_link_many`; manual open -> `open_or_link`; `cases.machine` ->
`lock_case` -> `update_case` -> `add_event`; all of them -> `add_events`, the one function
every change of every case goes through (in the change's transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from webhooks.sources import cases_changed

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
# The batch forms (the recorder's hook): a few statements per batch, whatever its size.
OPEN_MANY = """
INSERT INTO cases (status, transaction_id, card_id, device_id, decided_at, score,
                   rules_matched, opened_by)
SELECT 'open', u.transaction_id, u.card_id, u.device_id, u.decided_at, u.score,
  ARRAY(SELECT jsonb_array_elements_text(u.rules::jsonb)), %s
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::float8[], %s::text[])
  AS u(transaction_id, card_id, device_id, decided_at, score, rules)
ON CONFLICT (card_id) WHERE status <> 'resolved' DO NOTHING
RETURNING transaction_id
"""
UNRESOLVED_OF_CARDS = """
SELECT card_id, case_id, status FROM cases WHERE card_id = ANY(%s) AND status <> 'resolved'
"""
LINK_MANY = """
INSERT INTO case_decisions (case_id, transaction_id, decided_at)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[])
ON CONFLICT (transaction_id) DO NOTHING
"""
WIDEN_MANY = """
UPDATE cases c SET score = greatest(c.score, u.score),
  rules_matched = ARRAY(SELECT DISTINCT unnest(c.rules_matched || ARRAY(
    SELECT jsonb_array_elements_text(u.rules::jsonb)))),
  updated_at = clock_timestamp()
FROM unnest(%s::bigint[], %s::float8[], %s::text[]) AS u(case_id, score, rules)
WHERE c.case_id = u.case_id
"""
LOCK = f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.case_id = %s FOR UPDATE"
UPDATE = """
UPDATE cases SET status = %(status)s, assignee = %(assignee)s, resolution = %(resolution)s,
  resolved_at = CASE WHEN %(status)s = 'resolved' THEN clock_timestamp() END,
  resolved_by = CASE WHEN %(status)s = 'resolved' THEN %(actor)s END,
  updated_at = clock_timestamp()
WHERE case_id = %(case_id)s
RETURNING extract(epoch FROM clock_timestamp() - opened_at)::float8 AS age_seconds
"""
EVENTS_IN = """
INSERT INTO case_events (case_id, kind, actor, status, assignee, resolution, transaction_id, note)
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                     %s::text[], %s::text[])
RETURNING event_id, case_id, kind, actor, at, status, assignee, resolution, transaction_id, note
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
    status = "open" if new else await _status(connection, case_id)
    kind = "opened" if new else "linked"
    await add_event(
        connection,
        CaseEvent(case_id, kind, actor, status, None, None, decision.transaction_id, note),
    )
    return Opened(case_id, new)


async def open_or_link_many(
    connection: AsyncConnection, decisions: Sequence[CaseDecision], actor: str
) -> None:
    """`open_or_link` for a batch of decisions new to the record (none in a case yet), in a
    few statements: a case for each card without an unresolved one (opened by its first
    decision in the batch), every other decision linked to its card's case."""
    if not decisions:
        return
    # Cards in order, so that two recorders never wait on each other's cards in a cycle.
    firsts = sorted({d.card_id: d for d in reversed(decisions)}.values(), key=_card)
    opened_by = await connection.execute(OPEN_MANY, (actor, *_columns(firsts)))
    openers = {row[0] for row in await opened_by.fetchall()}
    found = await connection.execute(UNRESOLVED_OF_CARDS, ([d.card_id for d in firsts],))
    case_of = {card: (case_id, status) for card, case_id, status in await found.fetchall()}
    cases = [case_of[d.card_id][0] for d in decisions]
    await connection.execute(
        LINK_MANY, (cases, [d.transaction_id for d in decisions], [d.decided_at for d in decisions])
    )
    linked = [
        (case, d)
        for case, d in zip(cases, decisions, strict=True)
        if d.transaction_id not in openers
    ]
    if linked:
        widest: dict[int, tuple[float, set[str]]] = {}
        for case, d in linked:
            score, rules = widest.get(case, (d.score, set()))
            widest[case] = (max(score, d.score), rules | set(d.rules_matched))
        await connection.execute(
            WIDEN_MANY,
            (
                list(widest),
                [w[0] for w in widest.values()],
                [_json(sorted(w[1])) for w in widest.values()],
            ),
        )
    await add_events(
        connection,
        [
            CaseEvent(
                case,
                "opened" if d.transaction_id in openers else "linked",
                actor,
                "open" if d.transaction_id in openers else case_of[d.card_id][1],
                transaction_id=d.transaction_id,
            )
            for case, d in zip(cases, decisions, strict=True)
        ],
    )


def _card(decision: CaseDecision) -> str:
    return decision.card_id


def _columns(decisions: Sequence[CaseDecision]) -> tuple[list[Any], ...]:
    return (
        [d.transaction_id for d in decisions],
        [d.card_id for d in decisions],
        [d.device_id for d in decisions],
        [d.decided_at for d in decisions],
        [d.score for d in decisions],
        [_json(d.rules_matched) for d in decisions],
    )


def _json(values: Sequence[str]) -> str:
    return orjson.dumps(list(values)).decode()


async def _status(connection: AsyncConnection, case_id: int) -> str:
    cursor = await connection.execute("SELECT status FROM cases WHERE case_id = %s", (case_id,))
    row = await cursor.fetchone()
    assert row is not None
    return str(row[0])


@dataclass(frozen=True)
class CaseEvent:
    """One change of a case, as `case_events` keeps it."""

    case_id: int
    kind: str
    actor: str
    status: str  # after the change
    assignee: str | None = None
    resolution: str | None = None
    transaction_id: str | None = None
    note: str | None = None


async def add_events(
    connection: AsyncConnection, events: Sequence[CaseEvent]
) -> list[dict[str, Any]]:
    """Record changes of cases: the one function every change of every case goes through,
    in the change's own transaction (what else a change starts, an event out, belongs here)."""
    columns = [
        [getattr(event, name) for event in events] for name in CaseEvent.__dataclass_fields__
    ]
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(EVENTS_IN, columns)
    stored = await cursor.fetchall()
    await cases_changed(connection, stored)  # case.opened / case.resolved out, same transaction
    return stored


async def add_event(connection: AsyncConnection, event: CaseEvent) -> dict[str, Any]:
    [stored] = await add_events(connection, [event])
    return stored


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
