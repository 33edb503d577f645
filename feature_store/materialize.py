"""`riskscore materialize`: the online state at the end of a history, loaded into Redis.

history -> the aggregates a replay through `entity.lua` would leave, per entity, computed with
array operations -> `load.lua`, many entities per call, pipelined. Each entity's keys are
replaced whole, so running it twice leaves the same state.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import orjson
import pandas as pd
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from feature_store import keys
from feature_store.aggregates import ENTITIES, LABEL_ENTITIES, LABEL_WINDOW, SEEN_SETS, Entity
from feature_store.offline import DEFAULT_LABEL_DELAY_SECONDS, transaction_inputs
from feature_store.online import Client
from feature_store.windows import RETENTION_SECONDS, WINDOWS, Window

LOAD_SCRIPT = resources.files(__package__).joinpath("load.lua").read_text()
LOAD_SHA = hashlib.sha1(LOAD_SCRIPT.encode()).hexdigest()
ENTITIES_PER_CALL = 400
CALLS_PER_PIPELINE = 16

State = dict[str, Any]


@dataclass(frozen=True)
class MaterializeReport:
    entities: dict[str, int]
    label_markers: int
    seconds: float

    @property
    def entities_per_second(self) -> float:
        return sum(self.entities.values()) / self.seconds if self.seconds else 0.0


async def materialize(
    client: Client,
    history: pd.DataFrame,
    *,
    label_delay_seconds: int = DEFAULT_LABEL_DELAY_SECONDS,
    dedup_seconds: int = 3600,
    progress: Callable[[int], object] | None = None,
) -> MaterializeReport:
    """Write the end-of-history state of every entity of a normalised history to Redis."""
    started = time.perf_counter()
    order = np.argsort(history["timestamp"].to_numpy(), kind="stable")
    inputs = transaction_inputs(history.iloc[order].reset_index(drop=True), label_delay_seconds)
    end_ms = int(inputs["ts_ms"].max()) if len(order) else 0
    await client.script_load(LOAD_SCRIPT)
    counts: dict[str, int] = {}
    for entity in ENTITIES:
        states = entity_states(inputs, entity, end_ms=end_ms)
        counts[entity.name] = len(states)
        for batch in _batches(entity, states, isinstance(client, RedisCluster)):
            await _load(client, batch)
            if progress:
                progress(sum(len(call[1]) for call in batch))
    markers = await _label_markers(client, inputs, end_ms)
    await _dedup_markers(client, inputs, end_ms - dedup_seconds * 1000, dedup_seconds * 1000)
    return MaterializeReport(counts, markers, time.perf_counter() - started)


def entity_states(inputs: dict[str, Any], entity: Entity, *, end_ms: int) -> dict[str, State]:
    """Per entity id: the state (`a`) and seen-set members (`s`)."""
    frame = pd.DataFrame(
        {
            "id": inputs[entity.column],
            "ts": inputs["ts_ms"],
            "cents": inputs["amount_cents"],
            "txn": inputs["transaction_id"],
            "label_ms": inputs["label_ms"],
        }
    )
    frame = frame[frame["id"].notna()]
    seen_sets = [s for s in SEEN_SETS if s.entity == entity]
    latest = frame.groupby("id")["ts"].max()
    states: dict[str, State] = {
        entity_id: {
            "a": {"p": int(ts), "w": [], "L": EMPTY_RING},
            "s": [[] for _ in seen_sets],
        }
        for entity_id, ts in zip(latest.index, latest, strict=True)
    }
    for window in WINDOWS:
        rings = _rings(frame, window, frame["ts"], frame["cents"])
        for entity_id, state in states.items():
            state["a"]["w"].append(rings.get(entity_id, EMPTY_RING))
    if entity in LABEL_ENTITIES:
        labelled = frame[(frame["label_ms"] >= 0) & (frame["label_ms"] <= end_ms)]
        for entity_id, ring in _rings(labelled, LABEL_WINDOW, labelled["label_ms"], None).items():
            states[entity_id]["a"]["L"] = ring
    for index, seen in enumerate(seen_sets):
        values = pd.Series(inputs[seen.attribute]).loc[frame.index]
        seen_members = _seen_members(frame, values, seen.window)
        for entity_id, pairs in _pairs(seen_members, "b", "v").items():
            states[entity_id]["s"][index] = pairs
    return states


# A ring as entity.lua keeps it: [last bucket, count, sum, {slot: [bucket, count, sum]}].
Ring = list[Any]
EMPTY_RING: Ring = [-1, 0, 0, {}]


def _rings(
    frame: pd.DataFrame, window: Window, times: pd.Series, cents: pd.Series | None
) -> dict[str, Ring]:
    """One ring per entity of the frame, holding the buckets inside the window of its last."""
    if frame.empty:
        return {}
    bucket = times // window.bucket_ms
    amount = 0 if cents is None else cents
    data = pd.DataFrame({"id": frame["id"], "b": bucket, "c": 1, "s": amount})
    last = data.groupby("id")["b"].transform("max")
    data = data[data["b"] >= last - window.bucket_count + 1]
    slots = data.groupby(["id", "b"], sort=False).agg(c=("c", "sum"), s=("s", "sum")).reset_index()
    totals = slots.groupby("id").agg(last=("b", "max"), c=("c", "sum"), s=("s", "sum"))
    out: dict[str, Ring] = {
        eid: [last_bucket, count, total, {}]
        for eid, last_bucket, count, total in zip(
            totals.index,
            totals["last"].tolist(),
            totals["c"].tolist(),
            totals["s"].tolist(),
            strict=True,
        )
    }
    rows = zip(
        slots["id"], slots["b"].tolist(), slots["c"].tolist(), slots["s"].tolist(), strict=True
    )
    for eid, slot_bucket, count, total in rows:
        out[eid][3][str(slot_bucket % window.bucket_count)] = [slot_bucket, count, total]
    return out


def _seen_members(frame: pd.DataFrame, values: pd.Series, window: Window) -> pd.DataFrame:
    bucket = frame["ts"] // window.bucket_ms
    first = bucket.groupby(frame["id"]).transform("max") - window.bucket_count + 1
    data = pd.DataFrame({"id": frame["id"], "v": values, "b": bucket, "first": first})
    data = data[data["v"].notna()]
    members = data.groupby(["id", "v"], sort=False).agg(b=("b", "max"), first=("first", "first"))
    return members[members["b"] >= members["first"]].reset_index()


def _pairs(frame: pd.DataFrame, score: str, member: str) -> dict[str, list[Any]]:
    """Per entity id, the flat [score, member, score, member, ...] list ZADD takes."""
    out: dict[str, list[Any]] = {}
    for eid, value, name in zip(frame["id"], frame[score].tolist(), frame[member], strict=True):
        out.setdefault(eid, []).extend((value, name))
    return out


Call = tuple[list[str], list[State]]


def _batches(entity: Entity, states: dict[str, State], by_slot: bool) -> Iterator[list[Call]]:
    """Script calls of at most `ENTITIES_PER_CALL` entities, grouped so that every call's keys
    share one cluster slot when `by_slot`."""
    seen_sets = [s for s in SEEN_SETS if s.entity == entity]
    groups: dict[int, list[str]] = {}
    for entity_id in states:
        slot = key_slot(keys.state_key(entity, entity_id).encode()) if by_slot else 0
        groups.setdefault(slot, []).append(entity_id)
    calls: list[Call] = []
    for ids in groups.values():
        for start in range(0, len(ids), ENTITIES_PER_CALL):
            chunk = ids[start : start + ENTITIES_PER_CALL]
            call_keys = []
            for entity_id in chunk:
                call_keys += [
                    keys.state_key(entity, entity_id),
                ]
                call_keys += [keys.seen_set_key(s, entity_id) for s in seen_sets]
            calls.append((call_keys, [states[eid] for eid in chunk]))
            if len(calls) == CALLS_PER_PIPELINE:
                yield calls
                calls = []
    if calls:
        yield calls


async def _load(client: Client, calls: list[Call]) -> None:
    pipe = client.pipeline(transaction=False)
    for call_keys, states in calls:
        per_entity = len(call_keys) // len(states)
        payload = {
            "per_entity": per_entity,
            "ttl": RETENTION_SECONDS,
            "entities": states,
        }
        pipe.execute_command("EVALSHA", LOAD_SHA, len(call_keys), *call_keys, orjson.dumps(payload))
    await pipe.execute()


async def _dedup_markers(
    client: Client, inputs: dict[str, Any], since_ms: int, ttl_ms: int
) -> None:
    """Mark the last transactions as recorded, so that a retry after the load counts once."""
    recent = np.flatnonzero(inputs["ts_ms"] >= since_ms).tolist()
    for start in range(0, len(recent), 2_000):
        pipe = client.pipeline(transaction=False)
        for row in recent[start : start + 2_000]:
            for entity in ENTITIES:
                entity_id = inputs[entity.column][row]
                if entity_id is not None:
                    key = keys.dedup_key(entity, entity_id, inputs["transaction_id"][row])
                    pipe.set(key, 1, px=ttl_ms)
        await pipe.execute()


async def _label_markers(client: Client, inputs: dict[str, Any], end_ms: int) -> int:
    label_ms = inputs["label_ms"]
    known = np.flatnonzero((label_ms >= 0) & (label_ms <= end_ms))
    ids = inputs["transaction_id"]
    for start in range(0, len(known), 5_000):
        pipe = client.pipeline(transaction=False)
        for row in known[start : start + 5_000].tolist():
            pipe.set(keys.label_marker_key(ids[row]), int(label_ms[row]), ex=RETENTION_SECONDS)
        await pipe.execute()
    return len(known)
