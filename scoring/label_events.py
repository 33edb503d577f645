"""A label for a recorded transaction: kept as a label event and applied to the label features.

a label (a bulk import row; `POST /v1/feedback` speaks the same language) -> `record.labels
.add_label` (validated against the record's timeline, kept once) -> a new fraud label counted
on the transaction's entities (`OnlineStore.apply_label`, once per transaction).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from feature_store.online import ATTRIBUTE_COLUMNS, OnlineStore, Transaction
from record.decisions import find_decision
from record.labels import LabelEvent, add_label


@dataclass(frozen=True)
class LabelOutcome:
    event: LabelEvent  # as stored
    new: bool  # False: the same report was recorded before; nothing changed
    counted: bool  # a fraud label counted on the entities now


async def apply_label_event(
    store: OnlineStore, connection: AsyncConnection, event: LabelEvent
) -> LabelOutcome:
    """Record `event` and, when it is a fraud label, count it on the transaction's card,
    customer and merchant as known from `reported_at` (once per transaction: the online
    store's marker; so sending a label again retries a count that Redis failed).

    Raises `record.errors.UnknownTransactionError` (no recorded decision), `LabelError`
    naming the field, `FeatureStoreError` when Redis fails (the event stays recorded).
    """
    async with connection.transaction():  # committed before Redis is asked
        stored, new = await add_label(connection, event)
    counted = False
    if event.is_fraud:
        decision = await find_decision(connection, event.transaction_id)
        assert decision is not None, "add_label found the transaction"
        attributes = {name: decision[name] for name in ATTRIBUTE_COLUMNS if name in decision}
        txn = Transaction.build(
            event.transaction_id,
            int(decision["occurred_at"].timestamp() * 1000),
            float(decision["amount"]),
            decision["currency"],
            attributes,
        )
        counted = await store.apply_label(txn, int(event.reported_at.timestamp() * 1000))
    return LabelOutcome(stored, new, counted)
