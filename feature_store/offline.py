"""Offline features: every aggregate of `feature_store.aggregates` for a whole history at once.

history (normalised by `history.io`) -> aggregates per transaction, point in time -> features.
A transaction sees only transactions strictly before it in (timestamp, file) order and only
labels known strictly before its timestamp; this is the order in which the online store is fed.
With `arrival_order=True` the file order is the order events reached the store, late ones
included, and each transaction sees what the online store would have shown it then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from feature_store import late
from feature_store.aggregates import (
    DAY_MS,
    ENTITIES,
    LABEL_MATURITY_DAYS,
    PLANS,
    PREVIOUS_WINDOW,
    RETENTION_SECONDS,
    SEEN_SETS,
    Entity,
    EntityPlan,
    SeenSet,
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
from feature_store.definitions import DECLARED_FEATURES, FEATURES
from feature_store.windows import Window
from history.currency import usd_rates

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Progress = Callable[[str], object]

# When a history has no `label_timestamp`, a fraud label counts as known this long after the
# transaction: a typical chargeback delay.
DEFAULT_LABEL_DELAY_SECONDS = 30 * 86_400
STEP_COUNT = len(ENTITIES) + len(SEEN_SETS) + 2
# Range-count keys are times relative to a base this far before the first event, so that the
# start of every window stays inside the key range.
KEY_MARGIN_MS = RETENTION_SECONDS * 1000


class FeatureComputationError(ValueError):
    """A history cannot be turned into features (for example, too long a time span)."""


def compute_features(
    history: pd.DataFrame,
    *,
    label_delay_seconds: int = DEFAULT_LABEL_DELAY_SECONDS,
    progress: Progress | None = None,
    arrival_order: bool = False,
    rule_features: bool = False,
) -> pd.DataFrame:
    """Every feature for every transaction of a normalised history, point in time.

    With `arrival_order`, rows are in the order the events reached the service: an event
    earlier than one that arrived before it is late and counts as docs/features.md ("Event
    time") says; fraud labels count by the time they became known either way.

    Returns float64 columns in `FEATURE_NAMES` order (with `rule_features`, every declared
    feature: the model's, then those for rules only), NaN for missing, one row per history row
    in the history's own row order.
    """
    step = progress or (lambda _name: None)
    order = np.argsort(times_ms(history["timestamp"]), kind="stable")
    inputs = transaction_inputs(history.iloc[order].reset_index(drop=True), label_delay_seconds)
    step("attributes")
    for entity in ENTITIES:
        inputs.update(_entity_aggregates(inputs, entity))
        step(f"{entity.name} windows")
    for seen in SEEN_SETS:
        inputs.update(_seen_aggregates(inputs, seen))
        step(f"{seen.name} seen set")
    if arrival_order:
        # Sorted by time, stable: within a time order, position order is arrival order.
        for entity in ENTITIES:
            late.recount(inputs, entity, _codes(inputs[entity.column]), order.astype(np.int64))
        step("late events")
    chosen = DECLARED_FEATURES if rule_features else FEATURES
    matrix = np.empty((len(history), len(chosen)), dtype=np.float64)
    for column, feature in enumerate(chosen):
        matrix[order, column] = feature.batch(inputs)
    step("features")
    return pd.DataFrame(matrix, columns=[f.name for f in chosen], index=history.index)


def times_ms(times: pd.Series) -> Ints:
    """A normalised history's time column as Unix milliseconds (NaT: the int64 minimum)."""
    return times.to_numpy(dtype="datetime64[ms]").astype(np.int64)


def transaction_inputs(frame: pd.DataFrame, label_delay_seconds: int) -> dict[str, Any]:
    """Attributes of time-ordered transactions under the names features read them by."""
    # Times become integers below; turning them into objects would build a Timestamp per row.
    times = ("timestamp", "label_timestamp")
    inputs: dict[str, Any] = {
        c: frame[c].to_numpy(dtype=object) for c in frame.columns if c not in times
    }
    inputs["ts_ms"] = times_ms(frame["timestamp"])
    rates = frame["currency"].map(usd_rates()).to_numpy(dtype=np.float64)
    inputs["amount_cents"] = np.rint(frame["amount"].to_numpy() * rates * 100).astype(np.int64)
    inputs["customer_account_age_days"] = frame["customer_account_age_days"].to_numpy(float)
    inputs["txn_country"] = np.array(
        [
            txn_country(a, b)
            for a, b in zip(frame["ip_country"], frame["merchant_country"], strict=True)
        ],
        dtype=object,
    )
    fraud = frame["is_fraud"].to_numpy(dtype=np.float64) == 1.0
    known = times_ms(frame["label_timestamp"])
    fallback = inputs["ts_ms"] + label_delay_seconds * 1000
    known = np.where(frame["label_timestamp"].isna().to_numpy(), fallback, known)
    inputs["label_ms"] = np.where(fraud, known, -1)
    return inputs


class _Events:
    """Events of one kind grouped by entity code and in time order, for range counts."""

    def __init__(self, codes: Ints, times: Ints, base_ms: int, span_ms: int) -> None:
        self.base_ms, self.span_ms = base_ms, span_ms
        if codes.size and int(codes.max()) >= (1 << 62) // span_ms:
            raise FeatureComputationError("too many entities for the history's time span")
        order = np.lexsort((times, codes))
        self.keys = codes[order] * span_ms + (times[order] - base_ms)

    def before(self, codes: Ints, times: Ints) -> Ints:
        """How many events of the same code happened strictly before each time."""
        clipped = np.clip(times, self.base_ms, self.base_ms + self.span_ms - 1) - self.base_ms
        return np.searchsorted(self.keys, codes * self.span_ms + clipped, side="left")


def _codes(values: npt.NDArray[Any]) -> Ints:
    codes, _ = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int64)


def _window_start(ts_ms: Ints, window: Window) -> Ints:
    return (ts_ms // window.bucket_ms - window.bucket_count + 1) * window.bucket_ms


def _scatter(size: int, rows: Ints, values: npt.NDArray[Any]) -> Floats:
    out = np.full(size, np.nan)
    out[rows] = values
    return out


def _entity_aggregates(inputs: dict[str, Any], entity: Entity) -> dict[str, Floats]:
    ts, cents, size = inputs["ts_ms"], inputs["amount_cents"], len(inputs["ts_ms"])
    all_codes = _codes(inputs[entity.column])
    rows = np.flatnonzero(all_codes >= 0)
    rows = rows[np.argsort(all_codes[rows], kind="stable")]  # grouped, time order within
    codes, times = all_codes[rows], ts[rows]
    base_ms = int(ts.min()) - KEY_MARGIN_MS if size else 0
    span_ms = int(ts.max()) - base_ms + 1 if size else 1
    events = _Events(codes, times, base_ms, span_ms)
    position = np.arange(len(rows))
    prefix = np.concatenate(([0], np.cumsum(cents[rows])))
    plan = PLANS[entity]
    out: dict[str, Floats] = {}
    for window in plan.windows:
        first = events.before(codes, _window_start(times, window))
        out[count_key(entity, window)] = _scatter(size, rows, position - first)
        out[sum_key(entity, window)] = _scatter(size, rows, prefix[position] - prefix[first])
    if plan.previous:
        out[previous_key(entity)] = _scatter(size, rows, _previous(codes, times))
    if plan.known_window is not None:
        out[fraud_count_key(entity, plan.known_window)] = _scatter(
            size,
            rows,
            _fraud_counts(inputs["label_ms"], all_codes, codes, times, plan.known_window),
        )
    for days, (count, frauds) in _matured(inputs, plan, all_codes, events, rows).items():
        out[matured_count_key(entity, days)] = _scatter(size, rows, count)
        out[matured_fraud_key(entity, days)] = _scatter(size, rows, frauds)
    return out


def _matured(
    inputs: dict[str, Any], plan: EntityPlan, all_codes: Ints, events: _Events, rows: Ints
) -> dict[int, tuple[Ints, Ints]]:
    """Per matured window, for each row of `rows`: the entity's transactions dated in its days,
    and the frauds among them whose labels were known strictly before the row's time.

    A fraud of day d known at L counts for a row at t when t > L and the row's matured window
    holds d: t in [(d + maturity) days, (d + maturity + days) days). Each fraud is such an
    interval; a row counts the intervals it falls in (starts before it minus ends before it).
    """
    codes, times = all_codes[rows], inputs["ts_ms"][rows]
    labelled = np.flatnonzero((inputs["label_ms"] >= 0) & (all_codes >= 0))
    fraud_codes = all_codes[labelled]
    fraud_day = inputs["ts_ms"][labelled] // DAY_MS
    known_after = inputs["label_ms"][labelled] + 1
    out: dict[int, tuple[Ints, Ints]] = {}
    for days in plan.matured_days:
        last = times // DAY_MS - LABEL_MATURITY_DAYS
        count = events.before(codes, (last + 1) * DAY_MS) - events.before(
            codes, (last - days + 1) * DAY_MS
        )
        starts = np.maximum(known_after, (fraud_day + LABEL_MATURITY_DAYS) * DAY_MS)
        ends = (fraud_day + LABEL_MATURITY_DAYS + days) * DAY_MS
        live = starts < ends
        frauds = np.zeros(len(rows), dtype=np.int64)
        if live.any() and len(rows):
            low = int(min(times.min(), starts[live].min())) - 1
            span = int(max(times.max(), ends[live].max())) - low + 2
            opened = _Events(fraud_codes[live], starts[live], low, span)
            closed = _Events(fraud_codes[live], ends[live], low, span)
            frauds = opened.before(codes, times + 1) - closed.before(codes, times + 1)
        out[days] = (count, frauds)
    return out


def _previous(codes: Ints, times: Ints) -> Floats:
    """Time of the same entity's previous transaction, when inside its window."""
    previous = np.full(len(codes), np.nan)
    if len(codes) > 1:
        same = codes[1:] == codes[:-1]
        earlier = times[:-1].astype(np.float64)
        previous[1:] = np.where(same, earlier, np.nan)
    return np.where(previous >= _window_start(times, PREVIOUS_WINDOW), previous, np.nan)


def _fraud_counts(
    label_ms: Ints, all_codes: Ints, codes: Ints, times: Ints, window: Window
) -> Ints:
    labelled = np.flatnonzero((label_ms >= 0) & (all_codes >= 0))
    if not labelled.size or not times.size:
        return np.zeros(len(codes), dtype=np.int64)
    label_codes, label_times = all_codes[labelled], label_ms[labelled]
    base_ms = int(min(times.min(), label_times.min())) - KEY_MARGIN_MS
    top = int(max(times.max(), label_times.max()))
    events = _Events(label_codes, label_times, base_ms, top - base_ms + 1)
    until = events.before(codes, times)
    since = events.before(codes, _window_start(times, window))
    return until - since


def _seen_aggregates(inputs: dict[str, Any], seen: SeenSet) -> dict[str, Floats]:
    ts, size = inputs["ts_ms"], len(inputs["ts_ms"])
    entity_codes = _codes(inputs[seen.entity.column])
    value_codes = _codes(inputs[seen.attribute])
    start = _window_start(ts, seen.window)
    new = np.full(size, np.nan)
    both = np.flatnonzero((entity_codes >= 0) & (value_codes >= 0))
    pair = entity_codes[both] * (int(value_codes.max(initial=0)) + 1) + value_codes[both]
    order = both[np.argsort(pair, kind="stable")]
    pair_sorted = np.sort(pair, kind="stable")
    repeat = np.zeros(len(order), dtype=bool)
    repeat[1:] = pair_sorted[1:] == pair_sorted[:-1]
    previous = np.full(len(order), -1, dtype=np.int64)
    previous[1:] = np.where(repeat[1:], ts[order[:-1]], -1)
    new[order] = np.where(repeat & (previous >= start[order]), 0.0, 1.0)
    rows = np.flatnonzero(entity_codes >= 0)
    rows = rows[np.argsort(entity_codes[rows], kind="stable")]
    distinct = _distinct_in_window(entity_codes[rows], value_codes[rows], ts[rows], start[rows])
    return {new_key(seen): new, distinct_key(seen): _scatter(size, rows, distinct)}


def _distinct_in_window(groups: Ints, values: Ints, times: Ints, starts: Ints) -> Ints:
    """Distinct values among each row's earlier rows of its group with time >= its start.

    A sliding window with two pointers: both ends only move forward within a group, so the
    whole pass is linear. Rows with a missing value (-1) count as events but hold no value.
    """
    out = np.zeros(len(groups), dtype=np.int64)
    group_list, value_list, time_list = groups.tolist(), values.tolist(), times.tolist()
    start_list = starts.tolist()
    held: dict[int, int] = {}
    left, current = 0, -1
    for i, group in enumerate(group_list):
        if group != current:
            held.clear()
            left, current = i, group
        start = start_list[i]
        while time_list[left] < start:
            gone = value_list[left]
            if gone >= 0:
                remaining = held[gone] - 1
                if remaining:
                    held[gone] = remaining
                else:
                    del held[gone]
            left += 1
        out[i] = len(held)
        value = value_list[i]
        if value >= 0:
            held[value] = held.get(value, 0) + 1
    return out
