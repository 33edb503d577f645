"""Replaying a history through the online store, event by event, as live traffic would arrive."""

from __future__ import annotations

from typing import Any

import pandas as pd

from feature_store.definitions import DECLARED_NAMES
from feature_store.online import OnlineStore, Transaction, feature_values, rule_feature_values
from history.schema import COLUMNS

# Every column holding an id that ends up in a Redis key.
ID_COLUMNS = (
    "transaction_id",
    "card_id",
    "customer_id",
    "merchant_id",
    "device_id",
    "ip",
    "card_bin",
)


def transactions(history: pd.DataFrame, namespace: str) -> list[Transaction]:
    """Store transactions of a normalised history, every id prefixed with `namespace`."""
    out = []
    for row in history.to_dict("records"):
        attributes: dict[str, Any] = {
            c.name: row[c.name] for c in COLUMNS if c.name not in ("timestamp", "amount")
        }
        for column in ID_COLUMNS[1:]:
            if attributes[column] is not None:
                attributes[column] = namespace + attributes[column]
        ts_ms = int(row["timestamp"].value // 1_000_000)
        out.append(
            Transaction.build(
                namespace + row["transaction_id"], ts_ms, row["amount"], row["currency"], attributes
            )
        )
    return out


def label_times(history: pd.DataFrame, label_delay_seconds: int) -> list[int | None]:
    out: list[int | None] = []
    for row in history.to_dict("records"):
        if row["is_fraud"] != 1:
            out.append(None)
        elif pd.isna(row["label_timestamp"]):
            out.append(int(row["timestamp"].value // 1_000_000) + label_delay_seconds * 1000)
        else:
            out.append(int(row["label_timestamp"].value // 1_000_000))
    return out


def _declared(txn: Transaction, aggregates: dict[str, float]) -> list[float]:
    """Every declared feature: the model's, then those for rules only."""
    return feature_values(txn, aggregates) + list(rule_feature_values(txn, aggregates).values())


async def replay_rows(
    store: OnlineStore,
    history: pd.DataFrame,
    namespace: str,
    label_delay_seconds: int,
    after_ms: int | None = None,
    arrival_order: bool = False,
) -> dict[int, list[float]]:
    """Features each transaction got online, by history row; with `after_ms`, only the events
    after it are replayed (the rest is expected in Redis already). Events arrive in time order,
    or with `arrival_order` in row order (then the history may hold no fraud label: a label's
    arrival among late transactions is not stated by the history)."""
    txns = transactions(history, namespace)
    labels = label_times(history, label_delay_seconds)
    if arrival_order:
        if any(ms is not None for ms in labels):
            raise ValueError("an arrival-order replay takes a history without fraud labels")
        return {i: _declared(t, await store.read_and_update(t)) for i, t in enumerate(txns)}
    events = [(t.ts_ms, 0, i) for i, t in enumerate(txns)]
    events += [(ms, 1, i) for i, ms in enumerate(labels) if ms is not None]
    if after_ms is not None:
        events = [event for event in events if event[0] > after_ms]
    rows: dict[int, list[float]] = {}
    for at, kind, index in sorted(events):
        txn = txns[index]
        if kind == 1:
            await store.apply_label(txn, at)
            continue
        rows[index] = _declared(txn, await store.read_and_update(txn))
    return rows


async def replay(
    store: OnlineStore,
    history: pd.DataFrame,
    namespace: str,
    label_delay_seconds: int,
    arrival_order: bool = False,
) -> pd.DataFrame:
    """Every declared feature each transaction got online, in the history's row order."""
    rows = await replay_rows(
        store, history, namespace, label_delay_seconds, arrival_order=arrival_order
    )
    return pd.DataFrame([rows[i] for i in range(len(history))], columns=list(DECLARED_NAMES))
