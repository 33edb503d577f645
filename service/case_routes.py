"""The review queue's routes: cases listed, read, opened by hand and worked by analysts.

GET /v1/cases (filters, cursor pages), GET /v1/cases/{id} (the decision and what surrounds
it), POST /v1/cases (open by hand), POST /v1/cases/{id}/claim|assign|resolve|note|reopen.
The moves are `cases.machine.move`; a resolution's label goes through `scoring.feedback`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from psycopg import AsyncConnection
from starlette.responses import Response

from cases.errors import CaseCursorError, UnknownCaseError
from cases.machine import Move, Moved, move
from cases.opening import open_by_hand
from cases.queue import CaseFilter, case_decisions, case_events, find_case, list_cases
from record.decisions import DecisionFilter, list_decisions
from record.labels import LabelEvent, decision_with_labels
from scoring.feedback import record_label_on
from scoring.pipeline import Scorer
from service.auth import KeyRing, require
from service.case_schemas import (
    AssignRequest,
    CaseChange,
    CaseDetail,
    CasePage,
    CaseSummary,
    NoteOnly,
    NoteRequest,
    OpenCaseRequest,
    ResolveRequest,
)
from service.edge import EdgeRoute
from service.metrics import Metrics
from service.problems import QueryParameterError, RequestError
from service.record_routes import SUMMARY_FIELDS, RecordDep, recorded_body
from service.routes import ScorerDep, _json, _problems
from service.settings import ApiKey

router = APIRouter(route_class=EdgeRoute, tags=["cases"])
ReadKey = Annotated[ApiKey, Depends(require("analyst", "admin"))]
AnalystKey = Annotated[ApiKey, Depends(require("analyst"))]
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MAX_AGE_SECONDS = 10 * 365 * 86_400  # a filter beyond ten years is a typo
RECENT_DECISIONS = 20  # of the card and of the device, on a case's page
CASE_PROBLEM_TEXT = {
    404: "No case with this id (or, opening one, no recorded decision for the transaction).",
    409: "The move is not allowed in the case's state (the detail names it), the card has "
    "another unresolved case, or the decision to label is past the record's retention.",
}


def _case_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses = _problems(*statuses)
    for status, text in CASE_PROBLEM_TEXT.items():
        if status in responses:
            responses[status] = {**responses[status], "description": text}
    return responses


MOVE_PROBLEMS = _case_problems(400, 401, 403, 404, 409, 413, 415, 422, 503)


@router.get(
    "/v1/cases",
    response_model=CasePage,
    responses=_problems(401, 403, 422, 503),
    summary="The review queue: cases, oldest first, filtered, a page at a time",
)
async def cases(
    _: ReadKey,
    record: RecordDep,
    status: Literal["open", "assigned", "resolved", "unresolved"] | None = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    min_age_seconds: Annotated[float | None, Query(ge=0, le=MAX_AGE_SECONDS)] = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    card_id: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Filters combine (AND). `status=unresolved` is open or assigned; `rule` and the scores
    look at all of a case's decisions. Pass `next_cursor` back as `cursor`, same filters."""
    filters = CaseFilter(status, assignee, min_age_seconds, rule, min_score, max_score, card_id)
    async with record.connection() as connection:
        try:
            page = await list_cases(connection, filters, cursor=cursor, limit=limit)
        except CaseCursorError as exc:
            raise QueryParameterError("cursor", str(exc)) from exc
    return _json({"cases": [_summary(row) for row in page.cases], "next_cursor": page.next_cursor})


@router.get(
    "/v1/cases/{case_id}",
    response_model=CaseDetail,
    responses=_case_problems(401, 403, 404, 422, 503),
    summary="A case: its decision, features, reasons, rules, labels and the card's history",
)
async def case(case_id: CaseId, _: ReadKey, record: RecordDep) -> Response:
    async with record.connection() as connection:
        found = await find_case(connection, case_id)
        if found is None:
            raise UnknownCaseError(f"no case {case_id}")
        decision = await decision_with_labels(connection, found["transaction_id"])
        linked = await case_decisions(connection, case_id)
        events = await case_events(connection, case_id)
        card = await _recent(connection, found, DecisionFilter(card_id=found["card_id"]))
        device = (
            await _recent(connection, found, DecisionFilter(device_id=found["device_id"]))
            if found["device_id"] is not None
            else []
        )
    return _json(
        {
            "case": _summary(found),
            "decision": recorded_body(decision) if decision is not None else None,
            "decisions": [{**row, "in_record": row["decision"] is not None} for row in linked],
            "events": events,
            "card_decisions": card,
            "device_decisions": device,
        }
    )


async def _recent(
    connection: AsyncConnection, case: dict[str, Any], filters: DecisionFilter
) -> list[dict[str, Any]]:
    page = await list_decisions(connection, filters, limit=RECENT_DECISIONS + 1)
    others = [row for row in page.decisions if row["transaction_id"] != case["transaction_id"]]
    return [{name: row[name] for name in SUMMARY_FIELDS} for row in others[:RECENT_DECISIONS]]


@router.post(
    "/v1/cases",
    response_model=CaseChange,
    status_code=201,
    responses={200: {"description": "Linked to the card's unresolved case."}, **MOVE_PROBLEMS},
    summary="Open a case by hand on a recorded decision",
)
async def open_case(body: OpenCaseRequest, key: AnalystKey, record: RecordDep) -> Response:
    """201 with a new case; 200 with the card's unresolved case (the decision is linked to
    it) or the case the decision already belongs to."""
    async with record.connection() as connection:
        opened = await open_by_hand(connection, body.transaction_id, key.name, body.note)
        found = await find_case(connection, opened.case_id)
    assert found is not None
    return _json({"case": _summary(found), "changed": opened.new}, 201 if opened.new else 200)


async def _move(request: Request, scorer: Scorer, case_id: int, change: Move) -> Response:
    async def labeller(connection: AsyncConnection, event: LabelEvent) -> Any:
        return await record_label_on(connection, scorer.store, scorer.decisions, event)

    async with request.app.state.runtime.record.connection() as connection:
        moved: Moved = await move(connection, labeller, case_id, change)
    if moved.resolution_seconds is not None:
        metrics: Metrics = request.app.state.metrics
        metrics.case_resolved(moved.resolution_seconds)
    request.state.log = {"case_id": case_id, "move": change.kind, "changed": moved.changed}
    return _json({"case": _summary(moved.case), "changed": moved.changed})


@router.post(
    "/v1/cases/{case_id}/claim",
    response_model=CaseChange,
    responses=MOVE_PROBLEMS,
    summary="Assign an open case to the caller",
)
async def claim(
    case_id: CaseId, body: NoteOnly, request: Request, key: AnalystKey, scorer: ScorerDep
) -> Response:
    return await _move(request, scorer, case_id, Move("claim", key.name, note=body.note))


@router.post(
    "/v1/cases/{case_id}/assign",
    response_model=CaseChange,
    responses=MOVE_PROBLEMS,
    summary="Assign a case that is not resolved to an analyst",
)
async def assign(
    case_id: CaseId, body: AssignRequest, request: Request, key: AnalystKey, scorer: ScorerDep
) -> Response:
    _check_analyst(request.app.state.keys, body.assignee)
    change = Move("assign", key.name, assignee=body.assignee, note=body.note)
    return await _move(request, scorer, case_id, change)


@router.post(
    "/v1/cases/{case_id}/resolve",
    response_model=CaseChange,
    responses=MOVE_PROBLEMS,
    summary="Resolve a case; fraud and legitimate record a label (source analyst)",
)
async def resolve(
    case_id: CaseId, body: ResolveRequest, request: Request, key: AnalystKey, scorer: ScorerDep
) -> Response:
    """Fraud records `confirmed_fraud`, legitimate `confirmed_legitimate` on the case's
    decision, once; the same resolve again by the same analyst changes nothing (a retry)."""
    change = Move("resolve", key.name, resolution=body.resolution, note=body.note)
    return await _move(request, scorer, case_id, change)


@router.post(
    "/v1/cases/{case_id}/note",
    response_model=CaseChange,
    responses=MOVE_PROBLEMS,
    summary="Add a note to a case, in any state",
)
async def note(
    case_id: CaseId, body: NoteRequest, request: Request, key: AnalystKey, scorer: ScorerDep
) -> Response:
    return await _move(request, scorer, case_id, Move("note", key.name, note=body.note))


@router.post(
    "/v1/cases/{case_id}/reopen",
    response_model=CaseChange,
    responses=MOVE_PROBLEMS,
    summary="Reopen a resolved case (its label stays until it is resolved again)",
)
async def reopen(
    case_id: CaseId, body: NoteOnly, request: Request, key: AnalystKey, scorer: ScorerDep
) -> Response:
    return await _move(request, scorer, case_id, Move("reopen", key.name, note=body.note))


def _check_analyst(keys: KeyRing, name: str) -> None:
    if not any(key.name == name and "analyst" in key.scopes for key, _ in keys.keys):
        raise RequestError(
            422,
            "Invalid request",
            f"no API key named {name!r} has the analyst scope; assign to one that does",
            field="assignee",
        )


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in CaseSummary.model_fields}
