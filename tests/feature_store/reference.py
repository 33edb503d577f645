"""A deliberately naive, row-by-row statement of every aggregate, for tests to compare against.

It follows the definitions in `feature_store.aggregates` literally (a loop over all earlier
rows), shares no code with `feature_store.offline`, and is far too slow for real histories.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from feature_store.aggregates import (
    ENTITIES,
    LABEL_ENTITIES,
    LABEL_WINDOW,
    PREVIOUS_ENTITIES,
    SEEN_SETS,
    count_key,
    distinct_key,
    fraud_count_key,
    new_key,
    previous_key,
    sum_key,
    txn_country,
)
from feature_store.windows import WINDOW_30D, WINDOWS
from history.currency import usd_cents


def reference_inputs(history: pd.DataFrame, label_delay_seconds: int) -> list[dict[str, Any]]:
    """For each row of a normalised history (in row order), every aggregate and attribute."""
    rows: list[dict[str, Any]] = history.to_dict("records")  # type: ignore[assignment]
    for row in rows:
        row["ts_ms"] = int(row["timestamp"].value // 1_000_000)
        row["amount_cents"] = usd_cents(row["amount"], row["currency"])
        row["txn_country"] = txn_country(row["ip_country"], row["merchant_country"])
        known = row["label_timestamp"]
        fraud = row["is_fraud"] == 1
        if not fraud:
            row["label_ms"] = None
        elif pd.isna(known):
            row["label_ms"] = row["ts_ms"] + label_delay_seconds * 1000
        else:
            row["label_ms"] = int(known.value // 1_000_000)
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["ts_ms"], i))
    position = {index: rank for rank, index in enumerate(order)}
    result: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        earlier = [rows[j] for j in order[: position[i]]]
        result.append({**row, **_aggregates(row, earlier, rows)})
    return result


def _aggregates(
    row: dict[str, Any], earlier: list[dict[str, Any]], everything: list[dict[str, Any]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ts = row["ts_ms"]
    for entity in ENTITIES:
        value = row[entity.column]
        same = [e for e in earlier if value is not None and e[entity.column] == value]
        for window in WINDOWS:
            inside = [e for e in same if e["ts_ms"] >= window.start_ms(ts)]
            out[count_key(entity, window)] = math.nan if value is None else len(inside)
            out[sum_key(entity, window)] = (
                math.nan if value is None else sum(e["amount_cents"] for e in inside)
            )
        if entity in PREVIOUS_ENTITIES:
            recent = [e["ts_ms"] for e in same if e["ts_ms"] >= WINDOW_30D.start_ms(ts)]
            out[previous_key(entity)] = recent[-1] if recent else math.nan
        if entity in LABEL_ENTITIES:
            labels = [
                e
                for e in everything
                if value is not None
                and e[entity.column] == value
                and e["label_ms"] is not None
                and LABEL_WINDOW.start_ms(ts) <= e["label_ms"] < ts
            ]
            out[fraud_count_key(entity, LABEL_WINDOW)] = math.nan if value is None else len(labels)
    for seen in SEEN_SETS:
        key, own = row[seen.entity.column], row[seen.attribute]
        values = {
            e[seen.attribute]
            for e in earlier
            if key is not None
            and e[seen.entity.column] == key
            and e["ts_ms"] >= seen.window.start_ms(ts)
            and e[seen.attribute] is not None
        }
        out[distinct_key(seen)] = math.nan if key is None else len(values)
        out[new_key(seen)] = math.nan if key is None or own is None else float(own not in values)
    return out
