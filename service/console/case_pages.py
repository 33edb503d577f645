"""The review queue and the case page, and the analyst's moves on a case.

GET /console/queue (`cases.queue.list_cases`, as GET /v1/cases; sortable, filterable) ;
GET /console/cases/{id} (`cases.store` and `record.labels`, as GET /v1/cases/{id}) ;
POST /console/cases/{id}/claim|resolve|note|reopen (`cases.machine.move`; a resolution as
fraud or legitimate is a label through `scoring.feedback.record_label_on`, once) ;
POST /console/decisions/{id}/case (`cases.opening.open_by_hand`).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from psycopg import AsyncConnection
from starlette.responses import RedirectResponse, Response

from cases.errors import CaseCursorError, UnknownCaseError
from cases.machine import RESOLUTIONS, Move, move
from cases.opening import open_by_hand
from cases.queue import CaseFilter, case_decisions, case_events, find_case, list_cases
from record.decisions import DecisionFilter, list_decisions
from record.labels import LabelEvent, decision_with_labels
from record.window import WindowError, parse_moment
from scoring.feedback import record_label_on
from service.case_routes import MAX_AGE_SECONDS, CaseId
from service.console.access import Editor, RuntimeDep, ScopeError, Viewer
from service.console.charts import timeline
from service.console.explanation import explain
from service.console.login import safe_next
from service.console.record_pages import FilterError, card_history
from service.console.rendering import page
from service.console.security import read_form, refuse_card_numbers_in_query
from service.record_routes import recorded_body
from service.runtime import Runtime

router = APIRouter()
STATUSES = ("unresolved", "open", "assigned", "resolved", "any")
SORTS = {"opened": "opened_at", "score": "score", "status": "status", "assignee": "assignee"}
PAGE_SIZE = 100
MOVES = ("claim", "resolve", "note", "reopen")
NOTE_MAX = 2_000
DEVICE_HISTORY = 20  # the device's other recent decisions on a case page


def read_case_filters(query: dict[str, str], me: str) -> CaseFilter:
    """The queue form's fields as the queue's filter; `FilterError` names a bad one."""
    status = query.get("status") or "unresolved"
    if status not in STATUSES:
        raise FilterError("status", f"must be one of {', '.join(STATUSES)}")
    assignee = (query.get("assignee") or "").strip() or None
    return CaseFilter(
        status=None if status == "any" else status,
        assignee=me if assignee == "me" else assignee,
        min_age_seconds=_age(query.get("older_than") or ""),
        rule=(query.get("rule") or "").strip() or None,
        min_score=_score(query.get("min_score") or ""),
        card_id=(query.get("card_id") or "").strip() or None,
    )


def _age(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        moment = parse_moment(text.strip())
    except (WindowError, OverflowError) as exc:
        raise FilterError("older_than", "give an age such as 30m, 4h or 2d") from exc
    seconds = max(0.0, time.time() - moment.timestamp())
    if seconds > MAX_AGE_SECONDS:
        raise FilterError("older_than", "is more than ten years: give an age such as 4h or 2d")
    return seconds


def _score(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise FilterError("min_score", "must be a number between 0 and 1") from exc
    if not 0.0 <= value <= 1.0:
        raise FilterError("min_score", "must be a number between 0 and 1")
    return value


def sort_rows(rows: list[dict[str, Any]], sort: str, descending: bool) -> list[dict[str, Any]]:
    """The page's cases by `sort` (a key of `SORTS`); missing values last."""
    column = SORTS.get(sort, "opened_at")
    present = [row for row in rows if row[column] is not None]
    missing = [row for row in rows if row[column] is None]
    return sorted(present, key=lambda row: row[column], reverse=descending) + missing


@router.get("/queue", name="console.queue")
async def queue(request: Request, session: Viewer, runtime: RuntimeDep) -> Response:
    refuse_card_numbers_in_query(request)
    query = dict(request.query_params)
    sort = query.get("sort") or "opened"
    sort = sort if sort in SORTS else "opened"
    descending = query.get("order") == "desc"
    context: dict[str, Any] = {
        "query": query, "cases": [], "next_query": None, "sort": sort, "descending": descending,
    }  # fmt: skip
    try:
        filters = read_case_filters(query, session.key_name)
        async with runtime.record.connection() as connection:
            found = await list_cases(
                connection, filters, cursor=query.get("cursor") or None, limit=PAGE_SIZE
            )
    except (FilterError, CaseCursorError) as exc:
        context["error"] = str(exc)
        return page(request, "queue.html", context, session=session, status_code=422)
    context["cases"] = sort_rows(found.cases, sort, descending)
    if found.next_cursor is not None:
        context["next_query"] = {**query, "cursor": found.next_cursor}
    return page(request, "queue.html", context, session=session)


@router.get("/cases/{case_id}", name="console.case")
async def case(case_id: CaseId, request: Request, session: Viewer, runtime: RuntimeDep) -> Response:
    async with runtime.record.connection() as connection:
        context = await case_context(connection, case_id)
    return page(request, "case.html", context, session=session)


async def case_context(connection: AsyncConnection, case_id: int) -> dict[str, Any]:
    """What the case page shows: the case, its decision with why, the card's history, the
    device's other recent decisions, the decisions linked to it and every event."""
    found = await find_case(connection, case_id)
    if found is None:
        raise UnknownCaseError(f"no case {case_id}")
    decision = await decision_with_labels(connection, found["transaction_id"])
    body = recorded_body(decision) if decision is not None else None
    history = await card_history(connection, found["card_id"])
    device = []
    if found["device_id"] is not None:
        page_of = await list_decisions(
            connection, DecisionFilter(device_id=found["device_id"]), limit=DEVICE_HISTORY + 1
        )
        device = [d for d in page_of.decisions if d["transaction_id"] != found["transaction_id"]]
    return {
        "case": found,
        "decision": body,
        "reasons": explain(body) if body is not None else [],
        "timeline": timeline(history, found["transaction_id"]),
        "device_decisions": device[:DEVICE_HISTORY],
        "linked": await case_decisions(connection, case_id),
        "events": await case_events(connection, case_id),
        "resolutions": RESOLUTIONS,
    }


@router.post("/decisions/{transaction_id}/case", name="console.case.open")
async def open_case(
    transaction_id: str, request: Request, session: Editor, runtime: RuntimeDep
) -> Response:
    """A case opened by hand on a decision (or the decision linked to its card's unresolved
    case, as `POST /v1/cases` does), then its page."""
    if "analyst" not in session.scopes:
        raise ScopeError(f"the key {session.key_name!r} lacks the 'analyst' scope")
    form = await read_form(request)
    note = form.get("note", "").strip()[:NOTE_MAX] or None
    async with runtime.record.connection() as connection:
        opened = await open_by_hand(connection, transaction_id[:128], session.key_name, note)
    return RedirectResponse(f"/console/cases/{opened.case_id}", 303)


@router.post("/cases/{case_id}/{kind}", name="console.case.move")
async def change(
    case_id: CaseId, kind: str, request: Request, session: Editor, runtime: RuntimeDep
) -> Response:
    """One move by the logged-in analyst, then back to the page it was made from."""
    if kind not in MOVES:
        raise UnknownCaseError(f"there is no move {kind!r}; one of {', '.join(MOVES)}")
    if "analyst" not in session.scopes:
        raise ScopeError(f"the key {session.key_name!r} lacks the 'analyst' scope")
    form = await read_form(request)
    note = form.get("note", "").strip()[:NOTE_MAX] or None
    resolution = form.get("resolution") or None
    if kind == "resolve" and resolution not in RESOLUTIONS:
        raise FilterError("resolution", f"must be one of {', '.join(RESOLUTIONS)}")
    if kind == "note" and note is None:
        raise FilterError("note", "write the note first")
    moved = await apply_move(
        runtime, case_id, Move(kind, session.key_name, resolution=resolution, note=note)
    )
    request.state.log = {"case_id": case_id, "move": kind, "changed": moved}
    return RedirectResponse(safe_next(form.get("next") or f"/console/cases/{case_id}"), 303)


async def apply_move(runtime: Runtime, case_id: int, change: Move) -> bool:
    """`cases.machine.move` with the one label path, as the API's moves run it; returns
    whether the case changed (False: a repeat)."""
    scorer = runtime.scorer

    async def labeller(connection: AsyncConnection, event: LabelEvent) -> Any:
        return await record_label_on(connection, scorer.store, scorer.decisions, event)

    async with runtime.record.connection() as connection:
        moved = await move(connection, labeller, case_id, change)
    if moved.resolution_seconds is not None:
        runtime.metrics.case_resolved(moved.resolution_seconds)
    return moved.changed
