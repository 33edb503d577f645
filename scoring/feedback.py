"""Labels sent back for scored transactions: an event in the record, then the label features.

label -> the recorded transaction (waiting briefly for one scored seconds ago) -> a label event
in PostgreSQL (`record.labels`, validated against the timeline) with its label.recorded event
(`webhooks`) in the same transaction -> the current label decides
whether the transaction's fraud counts on its entities (a reversal takes it back out). The one
path of every label: `POST /v1/feedback` and the bulk import (`service/record_admin.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from feature_store.online import OnlineStore, Transaction
from record.decisions import find_decision
from record.labels import LabelEvent, add_label, current_label
from record.writer import TRANSACTION_FIELDS
from scoring.decisions import DecisionStore
from scoring.errors import RecordPendingError, UnknownTransactionError
from webhooks.sources import label_recorded

FRAUD_LABELS = ("chargeback", "confirmed_fraud")
LABELS = (*FRAUD_LABELS, "confirmed_legitimate")
# A transaction scored seconds ago may still be on its way to PostgreSQL (the recorder
# commits every batch within about a second): wait this long before answering 503.
RECORDING_WAIT_SECONDS = 3.0
RECORDING_POLL_SECONDS = 0.1

Connections = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True)
class LabelOutcome:
    event: LabelEvent
    new: bool  # False: the same report was recorded before
    counted: bool  # the label features changed now (a fraud counted, or a reversal)


async def record_label(
    store: OnlineStore, decisions: DecisionStore, connections: Connections, event: LabelEvent
) -> LabelOutcome:
    """Record one label event and bring the label features in line with the current label.

    Raises `UnknownTransactionError` (never scored, or past the retention), `RecordPendingError`
    (scored but not recorded yet), `LabelError` naming the field, `RecordUnavailableError`,
    `FeatureStoreError` or `DecisionStoreError`. A retry after any failure is safe: the event
    is recorded once and the features count a transaction's fraud at most once.
    """
    async with connections() as connection:
        return await record_label_on(connection, store, decisions, event)


async def record_label_on(
    connection: AsyncConnection, store: OnlineStore, decisions: DecisionStore, event: LabelEvent
) -> LabelOutcome:
    """`record_label` on a connection the caller holds (a bulk import, row after row)."""
    row = await _recorded(connection, decisions, event.transaction_id)
    async with connection.transaction():  # the event out commits with the label, or neither
        stored, new = await add_label(connection, event)
        if new:
            await label_recorded(connection, stored)
    current = await current_label(connection, event.transaction_id)
    txn = _transaction(row)
    if current is not None and current.is_fraud:
        counted = await store.apply_label(txn, _ms(current))
    else:
        counted = await store.remove_label(txn)
    return LabelOutcome(stored, new, counted)


async def _recorded(
    connection: AsyncConnection, decisions: DecisionStore, transaction_id: str
) -> dict[str, Any]:
    row = await find_decision(connection, transaction_id)
    if row is not None:
        return row
    if await decisions.load(transaction_id) is None:
        raise UnknownTransactionError(
            f"no recorded decision for transaction_id {transaction_id!r}: never scored here, "
            "or older than the record's retention"
        )
    deadline = time.monotonic() + RECORDING_WAIT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(RECORDING_POLL_SECONDS)
        row = await find_decision(connection, transaction_id)
        if row is not None:
            return row
    raise RecordPendingError(
        f"transaction_id {transaction_id!r} was scored but is not recorded yet (the record is "
        "behind); send the label again shortly"
    )


def _ms(event: LabelEvent) -> int:
    return int(event.reported_at.timestamp() * 1000)


def _transaction(row: Mapping[str, Any]) -> Transaction:
    attributes = {name: row[name] for name in TRANSACTION_FIELDS}
    ts_ms = int(row["occurred_at"].timestamp() * 1000)
    return Transaction.build(
        row["transaction_id"], ts_ms, float(row["amount"]), row["currency"], attributes
    )
