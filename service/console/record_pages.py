"""Decision pages: the search over the record and one decision with why and its labels.

GET /console/decisions (filters, cursor pages: `record.decisions.list_decisions`, as
GET /v1/decisions) ; GET /console/decisions/{id} (`record.labels.decision_with_labels`
through `service.record_routes.recorded_body`, as GET /v1/decisions/{id}, and its case).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from psycopg import AsyncConnection
from starlette.responses import Response

from cases.queue import case_of_decision
from record.decisions import DecisionFilter, list_decisions
from record.errors import CursorError, UnknownTransactionError
from record.labels import decision_with_labels
from record.window import WindowError, parse_moment
from service.console.access import RuntimeDep, Viewer
from service.console.charts import timeline
from service.console.explanation import explain
from service.console.rendering import page
from service.console.security import refuse_card_numbers_in_query
from service.problems import RequestError
from service.record_routes import SUMMARY_FIELDS, recorded_body

router = APIRouter()
DECISIONS = ("approve", "review", "challenge", "decline")
TEXT_FILTERS = ("rule", "shadow_rule", "card_id", "merchant_id")
PAGE_SIZE = 50
HISTORY_SIZE = 30


class FilterError(RequestError):
    """A field of a console form is refused (422 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, "Invalid form", f"{field}: {message}", field=field)


def read_filters(query: dict[str, str]) -> DecisionFilter:
    """The search form's fields as the record's filter; `FilterError` names a bad one."""
    decision = query.get("decision") or None
    if decision is not None and decision not in DECISIONS:
        raise FilterError("decision", f"must be one of {', '.join(DECISIONS)}")
    texts = {name: (query.get(name) or "").strip() or None for name in TEXT_FILTERS}
    for name, value in texts.items():
        if value is not None and len(value) > 128:
            raise FilterError(name, "is longer than 128 characters")
    return DecisionFilter(
        decision=decision,
        since=_moment(query, "from"),
        until=_moment(query, "until"),
        degraded=_flag(query, "degraded"),
        labelled=_flag(query, "labelled"),
        **texts,
    )


def _moment(query: dict[str, str], name: str) -> datetime | None:
    text = (query.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_moment(text)
    except WindowError as exc:
        raise FilterError(name, str(exc)) from exc


def _flag(query: dict[str, str], name: str) -> bool | None:
    value = query.get(name) or ""
    if value not in ("", "yes", "no"):
        raise FilterError(name, "must be yes, no or empty")
    return None if not value else value == "yes"


@router.get("/decisions", name="console.decisions")
async def decisions(request: Request, session: Viewer, runtime: RuntimeDep) -> Response:
    refuse_card_numbers_in_query(request)
    query = dict(request.query_params)
    context: dict[str, Any] = {"query": query, "decisions": [], "next_query": None}
    try:
        filters = read_filters(query)
        async with runtime.record.connection() as connection:
            found = await list_decisions(
                connection, filters, cursor=query.get("cursor") or None, limit=PAGE_SIZE
            )
    except (FilterError, CursorError) as exc:
        context["error"] = str(exc)
        return page(request, "decisions.html", context, session=session, status_code=422)
    context["decisions"] = [{name: row[name] for name in SUMMARY_FIELDS} for row in found.decisions]
    if found.next_cursor is not None:
        context["next_query"] = {**query, "cursor": found.next_cursor}
    return page(request, "decisions.html", context, session=session)


@router.get("/decisions/{transaction_id}", name="console.decision")
async def decision(
    transaction_id: str, request: Request, session: Viewer, runtime: RuntimeDep
) -> Response:
    refuse_card_numbers_in_query(request)
    async with runtime.record.connection() as connection:
        found = await decision_with_labels(connection, transaction_id[:128])
    if found is None:
        raise UnknownTransactionError(
            f"no recorded decision for {transaction_id!r}: never scored here, scored moments "
            "ago and not recorded yet, or older than the record's retention"
        )
    body = recorded_body(found)
    async with runtime.record.connection() as connection:
        history = await card_history(connection, found["card_id"])
        case_id = await case_of_decision(connection, found["transaction_id"])
    context = {
        "decision": body,
        "reasons": explain(body),
        "timeline": timeline(history, transaction_id),
        "case_id": case_id,
    }
    return page(request, "decision.html", context, session=session)


async def card_history(connection: AsyncConnection, card_id: str | None) -> list[dict[str, Any]]:
    """The card's latest decisions, for the timeline of a decision or case page."""
    if not card_id:
        return []
    found = await list_decisions(connection, DecisionFilter(card_id=card_id), limit=HISTORY_SIZE)
    return found.decisions
