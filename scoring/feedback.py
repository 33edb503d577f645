"""Labels sent back for scored transactions: they update the label features and are kept.

label -> the stored decision (what the transaction was) -> fraud labels counted on its
entities, as known from the report time -> appended to the label stream in raw history columns,
from which `riskscore labels export` writes a history file for retraining.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from feature_store.online import OnlineStore, Transaction
from scoring.decisions import DecisionStore
from scoring.errors import UnknownTransactionError

FRAUD_LABELS = ("chargeback", "confirmed_fraud")
LABELS = (*FRAUD_LABELS, "confirmed_legitimate")


async def record_label(
    store: OnlineStore,
    decisions: DecisionStore,
    transaction_id: str,
    label: str,
    reported_ms: int,
) -> bool:
    """Apply and keep one label; True when fraud features were updated now.

    Raises `UnknownTransactionError` when no decision is stored for the transaction (never
    scored, or expired), `FeatureStoreError` or `DecisionStoreError` when Redis fails.
    """
    record = await decisions.load(transaction_id)
    if record is None:
        raise UnknownTransactionError(
            f"no stored decision for transaction_id {transaction_id!r}: never scored here, or "
            "older than the decision retention"
        )
    scored = record.request
    counted = False
    if label in FRAUD_LABELS:
        txn = Transaction.build(
            transaction_id, scored.ts_ms, scored.amount, scored.currency, scored.attributes
        )
        counted = await store.apply_label(txn, reported_ms)
    await decisions.keep_label(
        label_row(
            transaction_id, scored.ts_ms, scored.amount, scored.attributes, label, reported_ms
        )
    )
    return counted


def label_row(
    transaction_id: str,
    ts_ms: int,
    amount: float,
    attributes: Mapping[str, Any],
    label: str,
    reported_ms: int,
) -> dict[str, str]:
    """One kept label as raw history columns (history/schema.py), plus the label's kind."""
    row = {name: str(value) for name, value in attributes.items() if value is not None}
    row.update(
        transaction_id=transaction_id,
        timestamp=str(ts_ms),
        amount=repr(amount),
        is_fraud="1" if label in FRAUD_LABELS else "0",
        label_timestamp=str(reported_ms),
        label=label,
    )
    return row
