"""A case's states and the moves between them; resolving as fraud or legitimate is a label.

open -> assigned (claim, assign) -> resolved (fraud / legitimate / inconclusive) -> open
(reopen); a note in any state. `move` runs one move in one transaction: lock the case, check
the move, set the state, record the event, and record the label through the one label path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection

from cases import store
from cases.errors import (
    CaseConflictError,
    CaseDecisionGoneError,
    CaseStateError,
    UnknownCaseError,
)
from cases.queue import find_case
from record.decisions import transaction_timeline
from record.labels import LabelEvent

MOVES = ("claim", "assign", "resolve", "note", "reopen")
RESOLUTIONS = ("fraud", "legitimate", "inconclusive")
LABEL_OF = {"fraud": "confirmed_fraud", "legitimate": "confirmed_legitimate"}
EVENT_OF = {
    "claim": "claimed",
    "assign": "assigned",
    "resolve": "resolved",
    "note": "noted",
    "reopen": "reopened",
}
LABEL_SOURCE = "analyst"

# The one label path (`scoring.feedback.record_label_on`, bound to the online store).
Labeller = Callable[[AsyncConnection, LabelEvent], Awaitable[Any]]


@dataclass(frozen=True)
class Move:
    """One move by `actor` (the API key's name); `assignee` for assign, `resolution` for
    resolve, `note` for any (required for note)."""

    kind: str
    actor: str
    assignee: str | None = None
    resolution: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Moved:
    case: dict[str, Any]  # as it is after the move
    changed: bool  # False: a repeat of the move that made the current state (a retry)
    resolution_seconds: float | None = None  # opened -> resolved, when the move resolved it


async def move(
    connection: AsyncConnection, labeller: Labeller, case_id: int, change: Move
) -> Moved:
    """Apply `change` to the case; raises `UnknownCaseError`, `CaseStateError` (naming the
    current state), `CaseConflictError`, `CaseDecisionGoneError`, or what the labeller raises
    (the transaction is then rolled back whole: a retry is safe)."""
    async with connection.transaction():
        case = await store.lock_case(connection, case_id)
        if case is None:
            raise UnknownCaseError(f"no case {case_id}")
        target = _target(case, change)
        if target is None:
            return Moved(case, changed=False)
        status, assignee, resolution = target
        age = None if change.kind == "note" else await _update(connection, case, target, change)
        event = await store.add_event(
            connection,
            store.CaseEvent(
                case_id, EVENT_OF[change.kind], change.actor, status, assignee, resolution,
                note=change.note,
            ),
        )  # fmt: skip
        if change.kind == "resolve" and resolution in LABEL_OF:
            await _label(connection, labeller, case, resolution, change.actor, event["at"])
        moved = await find_case(connection, case_id)
        assert moved is not None
        return Moved(moved, True, age if change.kind == "resolve" else None)


async def _update(
    connection: AsyncConnection,
    case: dict[str, Any],
    target: tuple[str, str | None, str | None],
    change: Move,
) -> float:
    """Set the case's new state (a note leaves it as it is); returns the case's age."""
    try:
        return await store.update_case(connection, case["case_id"], *target, change.actor)
    except psycopg.errors.UniqueViolation as exc:
        raise CaseConflictError(
            f"case {case['case_id']} cannot reopen: card {case['card_id']!r} has another "
            "unresolved case; work that one"
        ) from exc


def _target(case: dict[str, Any], change: Move) -> tuple[str, str | None, str | None] | None:
    """The (status, assignee, resolution) `change` leads to; None for a repeat of the move
    that made the current state; raises `CaseStateError` for a move not allowed from it."""
    status, assignee, resolution = case["status"], case["assignee"], case["resolution"]
    kind = change.kind
    if kind == "note":
        return status, assignee, resolution
    if kind in ("claim", "assign"):
        wanted = change.actor if kind == "claim" else change.assignee
        if status == "assigned" and assignee == wanted:
            return None
        if status == "resolved" or (kind == "claim" and status == "assigned"):
            raise CaseStateError(status, _refusal(case, kind))
        return "assigned", wanted, None
    if kind == "resolve":
        if status == "resolved":
            if resolution == change.resolution and case["resolved_by"] == change.actor:
                return None
            raise CaseStateError(status, _refusal(case, kind))
        return "resolved", assignee, change.resolution
    if kind == "reopen":
        if status != "resolved":
            raise CaseStateError(status, _refusal(case, kind))
        return "open", None, None
    raise ValueError(f"unknown move {kind!r}; one of {', '.join(MOVES)}")


def _refusal(case: dict[str, Any], kind: str) -> str:
    state = case["status"]
    if state == "assigned":
        state = f"assigned to {case['assignee']!r}"
    elif state == "resolved":
        state = f"resolved as {case['resolution']}"
    return f"case {case['case_id']} is {state}: it cannot {kind} now"


async def _label(
    connection: AsyncConnection,
    labeller: Labeller,
    case: dict[str, Any],
    resolution: str,
    actor: str,
    at: datetime,
) -> None:
    """The analyst's finding as a label of the case's decision, reported at the event's time
    (so a retry of a failed resolve reports the same label once, and a later resolution is a
    later report: the current label follows the latest)."""
    transaction_id = case["transaction_id"]
    if await transaction_timeline(connection, transaction_id) is None:
        raise CaseDecisionGoneError(
            f"case {case['case_id']}: decision {transaction_id!r} has aged out of the record, so "
            "no label can be recorded on it; resolve it as inconclusive"
        )
    event = LabelEvent(transaction_id, LABEL_OF[resolution], LABEL_SOURCE, at, actor)
    await labeller(connection, event)
