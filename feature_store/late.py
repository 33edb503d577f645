"""Offline aggregates of the entities whose events arrived out of time order: one event at a
time, kept exactly as `entity.lua` keeps them, so that offline equals online for late events.

`offline.compute_features(..., arrival_order=True)` computes every entity with array
operations, then calls `recount` for the few entities whose arrival order is not time order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from feature_store.aggregates import (
    DAY_MS,
    PLANS,
    PREVIOUS_WINDOW,
    Entity,
    EntityPlan,
    count_key,
    distinct_key,
    matured_count_key,
    matured_days,
    new_key,
    previous_key,
    sum_key,
)
from feature_store.windows import PREVIOUS_KEPT, SPARE_BUCKETS, Window

Ints = npt.NDArray[np.int64]


class _Ring:
    """The latest `kept_buckets` distinct buckets of one window: bucket -> [count, sum]."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.slots: dict[int, list[int]] = {}

    def floor(self) -> int | None:
        """The oldest bucket a full ring keeps (nothing older counts any more)."""
        return min(self.slots) if len(self.slots) >= self.window.kept_buckets else None

    def total(self, ts_ms: int) -> tuple[int, int]:
        last = self.window.bucket(ts_ms)
        return self.between(last - self.window.bucket_count + 1, last)

    def between(self, first: int, last: int) -> tuple[int, int]:
        inside = [slot for b, slot in self.slots.items() if first <= b <= last]
        return sum(s[0] for s in inside), sum(s[1] for s in inside)

    def add(self, ts_ms: int, cents: int) -> None:
        bucket = self.window.bucket(ts_ms)
        slot = self.slots.get(bucket)
        if slot is not None:
            slot[0] += 1
            slot[1] += cents
            return
        floor = self.floor()
        if floor is not None and bucket < floor:
            return
        self.slots[bucket] = [1, cents]
        if len(self.slots) > self.window.kept_buckets:
            del self.slots[min(self.slots)]


def _previous(times: list[int], ts_ms: int) -> float:
    """The latest kept time at or before `ts_ms`, if inside the previous-time window."""
    best = max((t for t in times if t <= ts_ms), default=None)
    if best is None or best < PREVIOUS_WINDOW.start_ms(ts_ms):
        return np.nan
    return float(best)


def _keep_time(times: list[int], ts_ms: int) -> None:
    """Keeps `ts_ms` among the `PREVIOUS_KEPT` latest distinct times."""
    if ts_ms in times:
        return
    if len(times) < PREVIOUS_KEPT:
        times.append(ts_ms)
    elif ts_ms > min(times):
        times[times.index(min(times))] = ts_ms


def _replay_entity(
    inputs: dict[str, Any], entity: Entity, positions: list[int], out: dict[str, Any]
) -> None:
    """One entity's aggregates, event by event in arrival order (`positions`). Matured fraud
    counts stay as offline computed them: labels count by the time they became known."""
    plan = PLANS[entity]
    rings = [_Ring(window) for window in plan.windows]
    matured = _matured_ring(plan)
    times: list[int] = []
    seen_sets = plan.seen_sets
    latest: list[dict[Any, int]] = [{} for _ in seen_sets]
    for p in positions:
        ts, cents = int(inputs["ts_ms"][p]), int(inputs["amount_cents"][p])
        for days in plan.matured_days:
            out[matured_count_key(entity, days)][p] = matured.between(*matured_days(ts, days))[0]
        matured.add(ts, 0)
        floors = {}
        for ring in rings:
            count, total = ring.total(ts)
            out[count_key(entity, ring.window)][p] = count
            out[sum_key(entity, ring.window)][p] = total
            floors[ring.window] = ring.floor()
            ring.add(ts, cents)
        if plan.previous:
            out[previous_key(entity)][p] = _previous(times, ts)
            _keep_time(times, ts)
        for seen, values in zip(seen_sets, latest, strict=True):
            first = seen.window.first_bucket(ts)
            floor = floors[seen.window]
            first = first if floor is None else max(first, floor)
            value = inputs[seen.attribute][p]
            out[distinct_key(seen)][p] = sum(1 for b in values.values() if b >= first)
            if pd.isna(value):
                out[new_key(seen)][p] = np.nan
                continue
            out[new_key(seen)][p] = float(values.get(value, first - 1) < first)
            bucket = seen.window.bucket(ts)
            values[value] = max(values.get(value, bucket), bucket)


def _matured_ring(plan: EntityPlan) -> _Ring:
    """The ring of transactions by day that matured windows read: `matured_kept` days."""
    days = plan.matured_kept - SPARE_BUCKETS
    return _Ring(Window("matured", DAY_MS // 1000, days))


def out_of_order_groups(codes: Ints, times: Ints, arrival: Ints) -> list[list[int]]:
    """Positions, in arrival order, of each entity code whose events did not arrive in time
    order (code -1, no entity, excluded)."""
    rows = np.flatnonzero(codes >= 0)
    rows = rows[np.lexsort((arrival[rows], codes[rows]))]
    # Time order within a code means no event earlier than the one that arrived before it.
    same = codes[rows][1:] == codes[rows][:-1]
    late = same & (times[rows][1:] < times[rows][:-1])
    late_codes = set(codes[rows][1:][late].tolist())
    groups: dict[int, list[int]] = {}
    for row in rows.tolist():
        code = int(codes[row])
        if code in late_codes:
            groups.setdefault(code, []).append(row)
    return list(groups.values())


def recount(inputs: dict[str, Any], entity: Entity, codes: Ints, arrival: Ints) -> None:
    """Replace, in `inputs`, the aggregates of `entity`'s out-of-order entities."""
    for positions in out_of_order_groups(codes, inputs["ts_ms"], arrival):
        _replay_entity(inputs, entity, positions, inputs)
