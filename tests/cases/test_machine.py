"""A case's moves against a real PostgreSQL: every allowed move is an event, every other one
is refused naming the state, a resolution is a label once (concurrent resolves included),
and a case outlives its decision's partition."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from cases.errors import CaseConflictError, CaseDecisionGoneError, CaseStateError
from cases.machine import Move, Moved, move
from cases.queue import case_decisions, case_events, find_case
from record import partitions
from record.labels import label_history
from tests.cases.conftest import cases_of, days_ago_ms, record_only, review, write
from tests.record.conftest import connect, run

pytestmark = pytest.mark.postgres


def _opened(url: str, transaction_id: str, card_id: str, **overrides: Any) -> int:
    run(write(url, review(transaction_id, card_id, **overrides)))
    return int(cases_of(url, card_id)[-1][0])


async def _move(url: str, case_id: int, change: Move) -> Moved:
    async with await connect(url) as connection:
        return await move(connection, record_only, case_id, change)


def test_every_move_is_an_event_with_who_and_note(record_url: str) -> None:
    case_id = _opened(record_url, "mv-1", "card-mv")
    claimed = run(_move(record_url, case_id, Move("claim", "ana", note="mine")))
    assert (claimed.case["status"], claimed.case["assignee"], claimed.changed) == (
        "assigned",
        "ana",
        True,
    )
    assert not run(_move(record_url, case_id, Move("claim", "ana"))).changed  # a retry
    run(_move(record_url, case_id, Move("assign", "ana", assignee="bob")))
    run(_move(record_url, case_id, Move("note", "bob", note="called the bank")))
    resolved = run(_move(record_url, case_id, Move("resolve", "bob", resolution="inconclusive")))
    assert resolved.case["status"] == "resolved" and resolved.resolution_seconds is not None
    assert resolved.case["resolved_by"] == "bob" and resolved.case["resolved_at"] is not None
    noted = run(_move(record_url, case_id, Move("note", "ana", note="after the fact")))
    assert noted.resolution_seconds is None  # a note resolves nothing
    assert (noted.case["resolved_by"], noted.case["resolved_at"]) == (
        "bob",
        resolved.case["resolved_at"],
    )
    reopened = run(_move(record_url, case_id, Move("reopen", "ana", note="new evidence")))
    assert (reopened.case["status"], reopened.case["assignee"]) == ("open", None)

    async def events() -> list[tuple[str, str, str | None, str | None]]:
        async with await connect(record_url) as connection:
            rows = await case_events(connection, case_id)
        return [(e["kind"], e["actor"], e["status"], e["note"]) for e in rows]

    assert run(events()) == [
        ("opened", "policy", "open", None),
        ("claimed", "ana", "assigned", "mine"),
        ("assigned", "ana", "assigned", None),
        ("noted", "bob", "assigned", "called the bank"),
        ("resolved", "bob", "resolved", None),
        ("noted", "ana", "resolved", "after the fact"),
        ("reopened", "ana", "open", "new evidence"),
    ]


@pytest.mark.parametrize(
    ("moves", "refused", "state"),
    [
        ([], Move("reopen", "ana"), "open"),
        ([Move("claim", "ana")], Move("claim", "bob"), "assigned to 'ana'"),
        ([Move("resolve", "ana", resolution="fraud")], Move("claim", "bob"), "resolved as fraud"),
        (
            [Move("resolve", "ana", resolution="fraud")],
            Move("assign", "ana", assignee="bob"),
            "resolved as fraud",
        ),
        (
            [Move("resolve", "ana", resolution="fraud")],
            Move("resolve", "ana", resolution="legitimate"),
            "resolved as fraud",
        ),
    ],
)
def test_a_move_not_allowed_names_the_state(
    record_url: str, moves: list[Move], refused: Move, state: str
) -> None:
    case_id = _opened(record_url, "bad-1", "card-bad")
    for change in moves:
        run(_move(record_url, case_id, change))
    with pytest.raises(CaseStateError, match=f"case {case_id} is {state}"):
        run(_move(record_url, case_id, refused))


def test_resolving_records_the_label_once_and_a_correction_after_reopen(record_url: str) -> None:
    case_id = _opened(record_url, "lb-1", "card-lb")
    run(_move(record_url, case_id, Move("resolve", "ana", resolution="fraud")))
    assert not run(_move(record_url, case_id, Move("resolve", "ana", resolution="fraud"))).changed
    run(_move(record_url, case_id, Move("reopen", "bob")))
    run(_move(record_url, case_id, Move("resolve", "bob", resolution="legitimate")))

    async def labels() -> list[tuple[str, str, str]]:
        async with await connect(record_url) as connection:
            history = await label_history(connection, "lb-1")
        return [(e.kind, e.source, e.reported_by) for e in history]

    assert run(labels()) == [
        ("confirmed_fraud", "analyst", "ana"),
        ("confirmed_legitimate", "analyst", "bob"),
    ]


def test_concurrent_resolves_one_wins_the_other_is_refused(record_url: str) -> None:
    case_id = _opened(record_url, "cc-1", "card-cc")

    async def both() -> tuple[Moved | BaseException, Moved | BaseException]:
        return await asyncio.gather(
            _move(record_url, case_id, Move("resolve", "ana", resolution="fraud")),
            _move(record_url, case_id, Move("resolve", "bob", resolution="legitimate")),
            return_exceptions=True,
        )

    outcomes = run(both())
    won = [o for o in outcomes if isinstance(o, Moved)]
    refused = [o for o in outcomes if isinstance(o, CaseStateError)]
    assert len(won) == 1 and len(refused) == 1, outcomes
    with psycopg.connect(record_url) as connection:
        kinds = connection.execute(
            "SELECT kind FROM label_events WHERE transaction_id = 'cc-1'"
        ).fetchall()
    assert len(kinds) == 1


def test_a_reopen_is_refused_while_the_card_has_another_unresolved_case(record_url: str) -> None:
    first = _opened(record_url, "ro-1", "card-ro")
    run(_move(record_url, first, Move("resolve", "ana", resolution="inconclusive")))
    _opened(record_url, "ro-2", "card-ro")  # a new case on the same card
    with pytest.raises(CaseConflictError, match="another unresolved case"):
        run(_move(record_url, first, Move("reopen", "ana")))


def test_a_case_outlives_its_decisions_partition(record_url: str) -> None:
    """The retention job drops the decision's day; the case stays, says its decision aged out,
    and can no longer be resolved into a label (inconclusive still can)."""
    case_id = _opened(record_url, "old-1", "card-old", decided_at_ms=days_ago_ms(200))

    async def age_out() -> tuple[int, dict[str, Any] | None, list[dict[str, Any]]]:
        async with await connect(record_url) as connection:
            done = await partitions.maintain(connection, retention_days=180)
            return (
                done.dropped,
                await find_case(connection, case_id),
                await case_decisions(connection, case_id),
            )

    dropped, case, linked = run(age_out())
    assert dropped >= 1 and case is not None and case["transaction_id"] == "old-1"
    assert [(d["transaction_id"], d["decision"]) for d in linked] == [("old-1", None)]
    assert case["decided_at"] < datetime.now(UTC) - timedelta(days=180)
    with pytest.raises(CaseDecisionGoneError, match="aged out"):
        run(_move(record_url, case_id, Move("resolve", "ana", resolution="fraud")))
    done = run(_move(record_url, case_id, Move("resolve", "ana", resolution="inconclusive")))
    assert done.case["status"] == "resolved"
