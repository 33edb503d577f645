"""A deliberately naive, row-by-row statement of every aggregate, for tests to compare against.

It follows the definitions in `feature_store.aggregates` literally (a loop over all earlier
rows), shares no code with `feature_store.offline`, and is far too slow for real histories.

Event time, as docs/features.md states it: a transaction sees the transactions that reached the
store before it, relative to its own time. Per window an entity keeps its `kept_buckets`
latest distinct buckets, so a transaction counts only earlier buckets no older than the oldest
of those (the "floor"); "previous" is the latest of the entity's `PREVIOUS_KEPT` latest
distinct times at or before it. A matured window of n days at t holds the transactions dated in
the n whole UTC days ending `LABEL_MATURITY_DAYS` days before t's day; its frauds are those of
them whose fraud label was known strictly before t.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from feature_store.aggregates import (
    DAY_MS,
    ENTITIES,
    LABEL_MATURITY_DAYS,
    PLANS,
    PREVIOUS_WINDOW,
    SEEN_SETS,
    count_key,
    distinct_key,
    fraud_count_key,
    matured_count_key,
    matured_fraud_key,
    new_key,
    previous_key,
    sum_key,
    txn_country,
)
from feature_store.windows import PREVIOUS_KEPT
from history.currency import usd_cents


def reference_inputs(
    history: pd.DataFrame, label_delay_seconds: int, arrival_order: bool = False
) -> list[dict[str, Any]]:
    """For each row of a normalised history (in row order), every aggregate and attribute;
    events reach the store in (time, row) order, or in row order with `arrival_order`."""
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
    if arrival_order:
        order = list(range(len(rows)))
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
    floors: dict[tuple[str, str], float] = {}
    for entity in ENTITIES:
        plan, value = PLANS[entity], row[entity.column]
        same = [e for e in earlier if value is not None and e[entity.column] == value]
        for window in plan.windows:
            floor = _floor([window.bucket(e["ts_ms"]) for e in same], window.kept_buckets)
            floors[entity.name, window.name] = floor
            first = max(window.first_bucket(ts), floor)
            inside = [e for e in same if first <= window.bucket(e["ts_ms"]) <= window.bucket(ts)]
            out[count_key(entity, window)] = math.nan if value is None else len(inside)
            out[sum_key(entity, window)] = (
                math.nan if value is None else sum(e["amount_cents"] for e in inside)
            )
        if plan.previous:
            kept = sorted({e["ts_ms"] for e in same})[-PREVIOUS_KEPT:]
            recent = [t for t in kept if PREVIOUS_WINDOW.start_ms(ts) <= t <= ts]
            out[previous_key(entity)] = recent[-1] if recent else math.nan
        mine = [e for e in everything if value is not None and e[entity.column] == value]
        known = [e for e in mine if e["label_ms"] is not None and e["label_ms"] < ts]
        if plan.known_window is not None:
            start = plan.known_window.start_ms(ts)
            labels = [e for e in known if start <= e["label_ms"]]
            key = fraud_count_key(entity, plan.known_window)
            out[key] = math.nan if value is None else len(labels)
        day_floor = _floor([e["ts_ms"] // DAY_MS for e in same], plan.matured_kept)
        for days in plan.matured_days:
            last = ts // DAY_MS - LABEL_MATURITY_DAYS
            first = max(last - days + 1, day_floor)
            txns = [e for e in same if first <= e["ts_ms"] // DAY_MS <= last]
            frauds = [e for e in known if first <= e["ts_ms"] // DAY_MS <= last]
            out[matured_count_key(entity, days)] = math.nan if value is None else len(txns)
            out[matured_fraud_key(entity, days)] = math.nan if value is None else len(frauds)
    for seen in SEEN_SETS:
        key, own = row[seen.entity.column], row[seen.attribute]
        first = max(seen.window.first_bucket(ts), floors[seen.entity.name, seen.window.name])
        latest: dict[Any, int] = {}
        for e in earlier:
            if key is not None and e[seen.entity.column] == key and e[seen.attribute] is not None:
                bucket = seen.window.bucket(e["ts_ms"])
                latest[e[seen.attribute]] = max(latest.get(e[seen.attribute], bucket), bucket)
        values = {v for v, bucket in latest.items() if bucket >= first}
        out[distinct_key(seen)] = math.nan if key is None else len(values)
        out[new_key(seen)] = math.nan if key is None or own is None else float(own not in values)
    return out


def _floor(buckets: list[int], kept: int) -> float:
    """The oldest of the `kept` latest distinct buckets, once there are that many."""
    distinct = sorted(set(buckets))
    return distinct[-kept] if len(distinct) >= kept else -math.inf
