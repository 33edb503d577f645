"""Admin routes on the decision record (scope `admin`, audited): bulk label imports and live
rule health.

POST /v1/admin/labels (a chargeback file in batches) -> each row validated against the record
-> `scoring.label_events.apply_label_event`; GET /v1/admin/policy/health -> `backtest.live`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query, Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field
from starlette.responses import Response

from backtest.live import live_body, live_report
from feature_store.online import FeatureStoreError
from record.errors import LabelError, RecordUnavailableError, UnknownTransactionError
from record.labels import LabelEvent
from record.window import parse_window
from scoring.errors import NotReadyError, RecordPendingError
from scoring.errors import UnknownTransactionError as UnscoredTransactionError
from scoring.feedback import record_label_on
from service.admin import ADMIN_PROBLEMS, AdminKey, AuditedRoute, RuntimeDep, _json, note
from service.limits import check_label_batch
from service.runtime import Runtime

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=AuditedRoute)
IMPORT_SOURCE = "import"


class LabelRow(BaseModel):
    """One row of a chargeback or review file; each is checked on its own (`refused`)."""

    transaction_id: str = Field(max_length=128)
    label: str = Field(max_length=64, description="chargeback, confirmed_fraud, ...")
    reported_at: str = Field(max_length=64, description="RFC 3339 with an offset.")
    source: str | None = Field(None, max_length=64, description=f"Default: {IMPORT_SOURCE}.")
    reported_by: str | None = Field(None, max_length=128, description="Default: the key.")


class LabelBatch(BaseModel):
    rows: list[LabelRow] = Field(min_length=1)


def record_pool(runtime: Runtime) -> AsyncConnectionPool:
    """The record's connection pool (`runtime.record.pool`); 503 when the service runs
    without a record."""
    record = getattr(runtime, "record", None)
    if record is None:
        raise NotReadyError("the service has no decision record: set RISKSCORE_DATABASE_URL")
    pool: AsyncConnectionPool = record.pool
    return pool


@router.post("/labels", name="labels.import", responses=ADMIN_PROBLEMS, summary="Import labels")
async def import_labels(
    body: LabelBatch, key: AdminKey, runtime: RuntimeDep, request: Request
) -> Response:
    """Record each row as a label event, as feedback does; a refused row (unknown
    transaction, `reported_at` before it or in the future, unknown label) is listed with its
    index, field and why, and the others are kept. Sending a row again changes nothing."""
    check_label_batch(runtime.settings, len(body.rows))
    note(request, rows=len(body.rows))
    report: dict[str, Any] = {
        "accepted": 0,
        "repeated": 0,
        "counted": 0,
        "not_counted": 0,  # fraud labels recorded whose online count Redis failed
        "refused": [],
    }
    try:
        async with record_pool(runtime).connection() as connection:
            for index, row in enumerate(body.rows):
                await _import_row(runtime, connection, index, row, key.name, report)
    except psycopg.Error as exc:
        raise RecordUnavailableError(f"the record failed: {exc}") from exc
    note(request, rows=len(body.rows), refused=len(report["refused"]))
    return _json(report)


async def _import_row(
    runtime: Runtime,
    connection: AsyncConnection,
    index: int,
    row: LabelRow,
    actor: str,
    report: dict[str, Any],
) -> None:
    try:
        event = LabelEvent(
            row.transaction_id,
            row.label,
            row.source or IMPORT_SOURCE,
            _reported_at(row.reported_at),
            row.reported_by or actor,
        )
        outcome = await record_label_on(
            connection, runtime.scorer.store, runtime.scorer.decisions, event
        )
    except FeatureStoreError:  # recorded (committed before the count); counted when resent
        report["not_counted"] += 1
        return
    except LabelError as exc:
        report["refused"].append({"index": index, "field": exc.field, "reason": exc.problem})
        return
    except (UnknownTransactionError, UnscoredTransactionError, RecordPendingError) as exc:
        report["refused"].append({"index": index, "field": "transaction_id", "reason": str(exc)})
        return
    report["accepted" if outcome.new else "repeated"] += 1
    report["counted"] += int(outcome.counted)


def _reported_at(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise LabelError("reported_at", f"{text!r} is not an RFC 3339 time") from exc


@router.get(
    "/policy/health", name="policy.health", responses=ADMIN_PROBLEMS, summary="Live rule health"
)
async def policy_health(
    _: AdminKey,
    runtime: RuntimeDep,
    since: Annotated[str, Query(max_length=64)] = "30d",
    until: Annotated[str, Query(max_length=64)] = "now",
    promote_precision: Annotated[float | None, Query(gt=0, le=1)] = None,
) -> Response:
    """Each rule of the serving policy over the decisions recorded in [since, until) and the
    labels known now: the figures of `riskscore policy report --live`."""
    policy = runtime.scorer.policy
    if policy is None:
        raise NotReadyError("no policy loaded")
    start, end = parse_window(since, until)
    extra = {} if promote_precision is None else {"promote_precision": promote_precision}
    try:
        async with record_pool(runtime).connection() as connection:
            report = await live_report(connection, policy, start, end, **extra)
    except psycopg.Error as exc:
        raise RecordUnavailableError(f"the record failed: {exc}") from exc
    return _json(live_body(report))
