"""`riskscore materialize`: the online state at the end of a history, loaded into Redis.

history -> per entity, the state a replay through `entity.lua` would leave, computed with
array operations on integer entity codes -> MessagePack, the format `entity.lua` keeps,
encoded for all entities at once (`state_codec`) ->
`load.lua`, hundreds of entities per call, pipelined. Each entity's keys are replaced whole,
so running it twice leaves the same state.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgpack
import numpy as np
import numpy.typing as npt
import pandas as pd
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from feature_store import keys
from feature_store.aggregates import DAY_MS, ENTITIES, PLANS, RETENTION_SECONDS, Entity
from feature_store.offline import DEFAULT_LABEL_DELAY_SECONDS, transaction_inputs
from feature_store.state_codec import RingArrays, encode_states
from feature_store.windows import SPARE_BUCKETS, Window

LOAD_SCRIPT = resources.files(__package__).joinpath("load.lua").read_text()
LOAD_SHA = hashlib.sha1(LOAD_SCRIPT.encode()).hexdigest()
ENTITIES_PER_CALL = 500
CALLS_PER_PIPELINE = 8

Ints = npt.NDArray[np.int64]
Client = Redis | RedisCluster  # bulk loading pipelines through redis-py


@dataclass(frozen=True)
class MaterializeReport:
    entities: dict[str, int]
    label_markers: int
    seconds: float

    @property
    def entities_per_second(self) -> float:
        return sum(self.entities.values()) / self.seconds if self.seconds else 0.0


@dataclass
class EntityStates:
    """The end states of every entity of one kind, in entity-code order."""

    entity: Entity
    ids: list[str]
    states: list[bytes]  # MessagePack, as entity.lua keeps them
    seen_members: list[list[list[Any]]]  # per entity, per seen set: [score, value, ...]


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
    in_flight: asyncio.Task[None] | None = None
    for entity in ENTITIES:
        states = entity_states(inputs, entity, end_ms=end_ms)
        counts[entity.name] = len(states.ids)
        keys_per_entity = 1 + len(PLANS[entity].seen_sets)
        for calls in _batches(states, isinstance(client, RedisCluster)):
            # Two loads overlap: Redis runs one while this thread encodes the next.
            loading = asyncio.create_task(_load(client, calls))
            await asyncio.sleep(0)  # let it send before the next batch is built
            if in_flight is not None:
                await in_flight
            in_flight = loading
            if progress:
                progress(sum(len(call_keys) for call_keys, _ in calls) // keys_per_entity)
    if in_flight is not None:
        await in_flight
    markers = await _label_markers(client, inputs, end_ms)
    await _dedup_markers(client, inputs, end_ms - dedup_seconds * 1000, dedup_seconds * 1000)
    return MaterializeReport(counts, markers, time.perf_counter() - started)


def entity_states(inputs: dict[str, Any], entity: Entity, *, end_ms: int) -> EntityStates:
    """The state of every entity of one kind after the last transaction of the history."""
    codes, uniques = pd.factorize(pd.Series(inputs[entity.column], dtype=object))
    present = np.flatnonzero(codes >= 0)
    code = codes[present].astype(np.int64)
    ts = inputs["ts_ms"][present]
    count = len(uniques)
    cents = inputs["amount_cents"][present]
    plan = PLANS[entity]
    windows = [(w.name, _rings(code, ts, cents, w, count)) for w in plan.windows]
    label_ms = inputs["label_ms"][present]
    known = (label_ms >= 0) & (label_ms <= end_ms)
    counted = known if plan.known_window is not None else np.zeros(len(code), dtype=bool)
    # Without a known-label window the ring stays empty (entity.lua never reads it).
    label_window = plan.known_window or Window("none", 86_400, 1)
    labels = _rings(code[counted], label_ms[counted], None, label_window, count)
    # Transactions by day (count) and the frauds among them known by the end (sum).
    matured_window = Window("matured", DAY_MS // 1000, plan.matured_kept - SPARE_BUCKETS)
    in_matured = np.full(len(code), bool(plan.matured_days))
    frauds = known.astype(np.int64)
    matured = _rings(code[in_matured], ts[in_matured], frauds[in_matured], matured_window, count)
    states = encode_states(_group_max(code, ts, count), windows, labels, matured)
    seen_sets = plan.seen_sets
    members: list[list[list[Any]]] = [[[] for _ in seen_sets] for _ in range(count)]
    for index, seen in enumerate(seen_sets):
        values = inputs[seen.attribute][present]
        _seen_members(code, ts, values, seen.window, count, members, index)
    return EntityStates(entity, [str(u) for u in uniques], states, members)


def _group_max(code: Ints, values: Ints, groups: int) -> Ints:
    out = np.full(groups, -1, dtype=np.int64)
    np.maximum.at(out, code, values)
    return out


def _rings(code: Ints, times: Ints, cents: Ints | None, window: Window, groups: int) -> RingArrays:
    """Per entity code, its ring: the buckets inside the window of its last event (a replay
    keeps up to `kept_buckets`; the older ones it would keep no in-order event reads)."""
    bucket = times // window.bucket_ms
    last = _group_max(code, bucket, groups)
    keep = bucket >= last[code] - window.bucket_count + 1
    code, bucket = code[keep], bucket[keep]
    amounts = np.zeros(len(code), dtype=np.int64) if cents is None else cents[keep]
    low = int(bucket.min()) if len(bucket) else 0
    span = (int(bucket.max()) - low + 1) if len(bucket) else 1
    pair_keys, where = np.unique(code * span + (bucket - low), return_inverse=True)
    slot_bucket = pair_keys % span + low
    slot_entity = pair_keys // span
    oldest = np.zeros(groups, dtype=np.int64)
    # pair_keys are sorted, so an entity's first slot holds its oldest bucket.
    if len(slot_entity):
        firsts = np.flatnonzero(np.r_[True, slot_entity[1:] != slot_entity[:-1]])
        oldest[slot_entity[firsts]] = slot_bucket[firsts]
    return RingArrays(
        latest=last,
        buckets=np.bincount(slot_entity, minlength=groups).astype(np.int64),
        oldest=oldest,
        slot_entity=slot_entity,
        slot_key=slot_bucket,
        slot_bucket=slot_bucket,
        slot_count=np.bincount(where, minlength=len(pair_keys)).astype(np.int64),
        slot_sum=_sums(where, amounts, len(pair_keys)),
    )


def _sums(groups: Ints, amounts: Ints, size: int) -> Ints:
    """Exact integer sums per group (bincount's float weights would round past 2**53)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, groups, amounts)
    return out


def _seen_members(
    code: Ints,
    ts: Ints,
    values: npt.NDArray[Any],
    window: Window,
    groups: int,
    members: list[list[list[Any]]],
    index: int,
) -> None:
    """Fill `members[entity][index]` with [last bucket, value, ...] of the values still in the
    window of the entity's last transaction (which may itself have had no value)."""
    bucket = ts // window.bucket_ms
    first = _group_max(code, bucket, groups) - window.bucket_count + 1
    value_codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    has = value_codes >= 0
    frame = pd.DataFrame({"e": code[has], "v": value_codes[has], "b": bucket[has]})
    last_seen = frame.groupby(["e", "v"], sort=False)["b"].max().reset_index()
    last_seen = last_seen[last_seen["b"].to_numpy() >= first[last_seen["e"].to_numpy()]]
    names = uniques.tolist()
    rows = zip(
        last_seen["e"].tolist(), last_seen["v"].tolist(), last_seen["b"].tolist(), strict=True
    )
    for entity_code, value_code, last_bucket in rows:
        members[entity_code][index] += (last_bucket, names[value_code])


Call = tuple[list[str], bytes]


def _batches(states: EntityStates, by_slot: bool) -> Iterator[list[Call]]:
    """Script calls of at most `ENTITIES_PER_CALL` entities; on a cluster every call's keys
    share one slot."""
    entity = states.entity
    seen_sets = PLANS[entity].seen_sets
    groups: dict[int, list[int]] = {}
    for position, entity_id in enumerate(states.ids):
        slot = key_slot(keys.state_key(entity, entity_id).encode()) if by_slot else 0
        groups.setdefault(slot, []).append(position)
    calls: list[Call] = []
    for positions in groups.values():
        for start in range(0, len(positions), ENTITIES_PER_CALL):
            chunk = positions[start : start + ENTITIES_PER_CALL]
            call_keys: list[str] = []
            payload = []
            for position in chunk:
                entity_id = states.ids[position]
                call_keys.append(keys.state_key(entity, entity_id))
                call_keys += [keys.seen_set_key(s, entity_id) for s in seen_sets]
                payload.append([states.states[position], states.seen_members[position]])
            entities = [len(seen_sets), RETENTION_SECONDS, payload]
            # Redis's cmsgpack reads no bin type: bytes go as (raw) strings.
            calls.append((call_keys, msgpack.packb(entities, use_bin_type=False)))
            if len(calls) == CALLS_PER_PIPELINE:
                yield calls
                calls = []
    if calls:
        yield calls


async def _load(client: Client, calls: list[Call]) -> None:
    pipe = client.pipeline(transaction=False)
    for call_keys, payload in calls:
        pipe.execute_command("EVALSHA", LOAD_SHA, len(call_keys), *call_keys, payload)
    await pipe.execute()


async def _dedup_markers(
    client: Client, inputs: dict[str, Any], since_ms: int, ttl_ms: int
) -> None:
    """Mark the last transactions as recorded, so that a retry after the load counts once."""
    recent = np.flatnonzero(inputs["ts_ms"] >= since_ms).tolist()
    for start in range(0, len(recent), 2_000):
        pipe = client.pipeline(transaction=False)
        for row in recent[start : start + 2_000]:
            pipe.set(keys.dedup_key(inputs["transaction_id"][row]), 1, px=ttl_ms)
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
