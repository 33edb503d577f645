"""The record's routes: decisions looked up and listed from PostgreSQL, labels sent into it.

GET /v1/decisions/{id} (the record with its label history; else the replay record of a decision
not recorded yet), GET /v1/decisions (filters, cursor pages), POST /v1/feedback (a label event).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from record.decisions import DecisionFilter, list_decisions
from record.errors import CursorError, RecordUnavailableError
from record.labels import LabelEvent, decision_with_labels
from record.writer import TRANSACTION_FIELDS
from scoring.errors import UnknownTransactionError
from scoring.feedback import record_label
from scoring.results import Replay
from service.auth import require
from service.edge import EdgeRoute
from service.problems import QueryParameterError
from service.record_schemas import DecisionPage, RecordedDecision
from service.recording import Recording
from service.responses import score_body
from service.routes import ScorerDep, _json, _problems
from service.schemas import FeedbackRequest, FeedbackResponse
from service.settings import ApiKey

router = APIRouter(route_class=EdgeRoute)
ReadKey = Annotated[ApiKey, Depends(require("score", "analyst"))]
FeedbackKey = Annotated[ApiKey, Depends(require("feedback"))]
SUMMARY_FIELDS = (
    "transaction_id", "decision", "score", "degraded", "rules_matched", "shadow_rules_matched",
    "card_id", "merchant_id", "amount", "currency", "occurred_at", "decided_at", "label",
)  # fmt: skip


async def record_of(request: Request) -> Recording:
    record: Recording = request.app.state.runtime.record
    return record


RecordDep = Annotated[Recording, Depends(record_of)]


@router.get(
    "/v1/decisions/{transaction_id}",
    response_model=RecordedDecision,
    responses=_problems(401, 403, 404, 422, 503),
    summary="A decision from the record, with its label history",
    tags=["record"],
)
async def decision(
    transaction_id: Annotated[str, Path(min_length=1, max_length=128)],
    _: ReadKey,
    scorer: ScorerDep,
    record: RecordDep,
) -> Response:
    """The recorded decision (features, versions, timings, labels) for as long as the record
    keeps it (RISKSCORE_RECORD_RETENTION_DAYS). One scored moments ago and not yet recorded is
    answered from its replay record, with `recorded: false`."""
    try:
        async with record.connection() as connection:
            found = await decision_with_labels(connection, transaction_id)
    except RecordUnavailableError:
        found = None
        replay = await scorer.decisions.load(transaction_id)
        if replay is None:
            raise
    else:
        replay = None if found is not None else await scorer.decisions.load(transaction_id)
    if found is not None:
        return _json(recorded_body(found))
    if replay is None:
        raise UnknownTransactionError(f"no recorded decision for {transaction_id!r}")
    return _json(replay_body(replay))


def recorded_body(row: dict[str, Any]) -> dict[str, Any]:
    body = {name: row[name] for name in RecordedDecision.model_fields if name in row}
    body.update(
        recorded=True,
        replayed=False,
        attributions=dict(zip(row["features"], row["attributions"] or [], strict=False)),
        transaction={
            "timestamp_ms": int(row["occurred_at"].timestamp() * 1000),
            "amount": row["amount"],
            **{name: row[name] for name in TRANSACTION_FIELDS},
        },
    )
    return body


def replay_body(replay: Replay) -> dict[str, Any]:
    decided_at = datetime.fromtimestamp(replay.decided_at_ms / 1000, UTC)
    return {**score_body(replay.decision), "recorded": False, "decided_at": decided_at}


@router.get(
    "/v1/decisions",
    response_model=DecisionPage,
    responses=_problems(401, 403, 422, 503),
    summary="Recorded decisions, newest first, filtered, a page at a time",
    tags=["record"],
)
async def decisions(
    _: ReadKey,
    record: RecordDep,
    decision: Literal["approve", "review", "challenge", "decline"] | None = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: datetime | None = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    shadow_rule: Annotated[str | None, Query(max_length=128)] = None,
    card_id: Annotated[str | None, Query(max_length=128)] = None,
    merchant_id: Annotated[str | None, Query(max_length=128)] = None,
    degraded: bool | None = None,
    labelled: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Filters combine (AND); `from` and `until` bound `decided_at` as [from, until) and need
    a UTC offset. Pass `next_cursor` back as `cursor` for the next page, same filters."""
    filters = DecisionFilter(
        decision, _aware(since, "from"), _aware(until, "until"), rule, shadow_rule,
        card_id, merchant_id, degraded, labelled,
    )  # fmt: skip
    async with record.connection() as connection:
        try:
            page = await list_decisions(connection, filters, cursor=cursor, limit=limit)
        except CursorError as exc:
            raise QueryParameterError("cursor", str(exc)) from exc
    rows = [{name: row[name] for name in SUMMARY_FIELDS} for row in page.decisions]
    return _json({"decisions": rows, "next_cursor": page.next_cursor})


def _aware(moment: datetime | None, parameter: str) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise QueryParameterError(parameter, "needs a UTC offset (RFC 3339), e.g. Z")
    return moment


@router.post(
    "/v1/feedback",
    response_model=FeedbackResponse,
    responses=_problems(400, 401, 403, 404, 413, 415, 422, 503),
    summary="Send a label for a recorded transaction",
    tags=["scoring"],
)
async def feedback(
    body: FeedbackRequest, request: Request, key: FeedbackKey, scorer: ScorerDep, record: RecordDep
) -> Response:
    """A label event in the record (months after the payment too); a fraud label counts on the
    card, customer and merchant label features once, a reversal takes it back (docs/api.md)."""
    event = LabelEvent(
        transaction_id=body.transaction_id,
        kind=body.label,
        source="feedback",
        reported_at=body.reported_at or datetime.now(UTC),
        reported_by=key.name,
    )
    outcome = await record_label(scorer.store, scorer.decisions, record.connection, event)
    request.state.log = {"transaction_id": body.transaction_id, "label": body.label}
    return _json(
        {
            "transaction_id": body.transaction_id,
            "label": body.label,
            "reported_at": outcome.event.reported_at,
            "new": outcome.new,
            "counted": outcome.counted,
        }
    )
