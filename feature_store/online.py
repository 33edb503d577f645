"""The online feature store: one Redis round trip reads every entity's aggregates as they were
before a transaction and records the transaction in them.

transaction -> `entity.lua` (one call for all entities on a single server; one call per entity,
pipelined by node, on a Redis Cluster) -> aggregates (the names of `feature_store.aggregates`)
-> features, by the same definitions the offline path uses.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from feature_store import keys
from feature_store.aggregates import (
    ENTITIES,
    PLANS,
    RETENTION_SECONDS,
    Entity,
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
from feature_store.definitions import FEATURES, RULE_FEATURES
from feature_store.resp import RespClient
from feature_store.script import ENTITY_SCRIPT, ENTITY_SCRIPT_SHA
from history.currency import usd_cents
from history.schema import COLUMNS

# RespClient is the lean path for a single server; redis-py serves clusters and everything else.
Client = Redis | RedisCluster | RespClient
# Every raw history column a feature may read, so that a transaction always carries them all.
ATTRIBUTE_COLUMNS = tuple(c.name for c in COLUMNS if c.name not in ("timestamp", "amount"))
NAN = math.nan


class FeatureStoreError(Exception):
    """Base of the feature store's errors; the scoring path degrades on any of them.

    FeatureStoreError
     ├── FeatureStoreTimeoutError      Redis did not answer within the time budget
     └── FeatureStoreUnavailableError  Redis refused, dropped or failed the call
    """


class FeatureStoreTimeoutError(FeatureStoreError):
    pass


class FeatureStoreUnavailableError(FeatureStoreError):
    pass


@dataclass(frozen=True)
class Transaction:
    """What the store needs of a transaction: attributes by raw history column name."""

    transaction_id: str
    ts_ms: int
    amount_cents: int
    attributes: Mapping[str, Any]

    @classmethod
    def build(
        cls,
        transaction_id: str,
        ts_ms: int,
        amount: float,
        currency: str,
        attributes: Mapping[str, Any],
    ) -> Transaction:
        """With the derived attributes the stores share: USD cents and the transaction country."""
        derived: dict[str, Any] = dict.fromkeys(ATTRIBUTE_COLUMNS)
        derived.update(attributes)
        derived["txn_country"] = txn_country(
            attributes.get("ip_country"), attributes.get("merchant_country")
        )
        return cls(transaction_id, ts_ms, usd_cents(amount, currency), derived)


@dataclass(frozen=True)
class Reading:
    """What `OnlineStore.record` read: the aggregates, and for a transaction id seen before,
    the fingerprint its first call left (None when this call recorded it)."""

    aggregates: dict[str, float]
    first_fingerprint: str | None

    @property
    def duplicate(self) -> bool:
        return self.first_fingerprint is not None


@dataclass(frozen=True)
class _Block:
    """One entity of a transaction: its keys and arguments in a script call."""

    entity: Entity
    entity_id: str
    seen_sets: tuple[SeenSet, ...]

    @property
    def keys(self) -> list[str]:
        state = keys.state_key(self.entity, self.entity_id)
        return [state, *(keys.seen_set_key(s, self.entity_id) for s in self.seen_sets)]

    def args(self, attributes: Mapping[str, Any]) -> list[Any]:
        return [self.entity.name, *(attributes.get(s.attribute) or "" for s in self.seen_sets)]


SEEN_BY_ENTITY = {e: PLANS[e].seen_sets for e in ENTITIES}
# Entities that count fraud labels (known, or by transaction day for matured windows).
LABEL_ENTITIES = tuple(e for e in ENTITIES if PLANS[e].known_window or PLANS[e].matured_days)
Call = tuple[list[str], list[Any]]  # a script call's keys and arguments


class OnlineStore:
    """Reads and updates entity aggregates in Redis.

    >>> store = OnlineStore(Redis.from_url("redis://127.0.0.1:6379/0"), timeout_ms=50)
    >>> aggregates = await store.read_and_update(transaction)

    On a single server every entity of a transaction goes into one script call; on a Redis
    Cluster each entity gets its own call (its keys share one slot), pipelined by node.
    """

    def __init__(self, client: Client, *, timeout_ms: float = 50.0, dedup_seconds: int = 3600):
        self.client = client
        self.timeout_seconds = timeout_ms / 1000.0
        self.dedup_ms = dedup_seconds * 1000
        self.per_entity_calls = isinstance(client, RedisCluster)

    async def read_and_update(self, txn: Transaction) -> dict[str, float]:
        """Aggregates of every entity as before `txn`; records `txn` unless already recorded.

        Raises `FeatureStoreTimeoutError` or `FeatureStoreUnavailableError`.
        """
        return (await self.record(txn)).aggregates

    async def record(self, txn: Transaction, fingerprint: str = "") -> Reading:
        """Like `read_and_update`, and says whether `txn` was seen before.

        The transaction id alone is the idempotency key: the first call for an id keeps
        `fingerprint` (of the request) in the id's marker and records the transaction; a later
        call, whatever its entities, records nothing and gets the fingerprint back in
        `Reading.first_fingerprint`. On a single server the marker is claimed inside the one
        script call; on a cluster it lives in a slot of its own, so it is claimed first (SET NX
        GET), and only the call that claimed it goes on to the entity calls: a retry or a
        conflicting body reads nothing (its aggregates are all missing), so that no failure of
        a later call can make it look like a first attempt.
        """
        blocks = _blocks(txn, ENTITIES)
        marker = keys.dedup_key(txn.transaction_id)
        first: str | None = None
        if self.per_entity_calls:
            first = _text(await self._guard(self._claim(marker, fingerprint)))
            if first is not None:
                return Reading(dict(MISSING_AGGREGATES), first)
            mode = "claimed"
        else:
            mode = "txn"
        head = [mode, txn.ts_ms, txn.amount_cents, txn.transaction_id, RETENTION_SECONDS]
        head += [self.dedup_ms, fingerprint]
        calls = self._calls(blocks, head, txn, marker=None if self.per_entity_calls else marker)
        replies = await self._run(calls)
        values = [v for reply in replies for v in reply[1:]]
        aggregates = dict(MISSING_AGGREGATES)
        position = 0
        for block in blocks:
            position = _read_block(block, values, position, aggregates)
        if mode == "txn" and replies[0][0] != 1:
            first = _text(replies[0][0])
        return Reading(aggregates, first)

    async def apply_label(self, txn: Transaction, label_ms: int) -> bool:
        """Count a fraud label on `txn`'s entities as known from `label_ms`, once per transaction.

        Returns False when this transaction's fraud label was already counted.
        """
        marker = keys.label_marker_key(txn.transaction_id)
        first = await self._guard(self.client.set(marker, label_ms, nx=True, ex=RETENTION_SECONDS))
        if not first:
            return False
        head: list[Any] = ["label", label_ms, txn.ts_ms, txn.transaction_id, RETENTION_SECONDS]
        head += [0, ""]
        await self._run(self._calls(_blocks(txn, LABEL_ENTITIES), head, txn, seen=False))
        return True

    async def remove_label(self, txn: Transaction) -> bool:
        """Take a counted fraud label of `txn` back out of its entities' label counts (a
        reversal: `confirmed_legitimate` after a chargeback), from the time bucket it was
        counted in, as if it had never been counted; False when none was counted.

        GETDEL claims the marker, so that two reversals at once take it out once.
        """
        marker = keys.label_marker_key(txn.transaction_id)
        counted_ms = await self._guard(self.client.execute_command("GETDEL", marker))
        if counted_ms is None:
            return False
        head: list[Any] = [
            "unlabel",
            int(counted_ms),
            txn.ts_ms,
            txn.transaction_id,
            RETENTION_SECONDS,
        ]
        await self._run(self._calls(_blocks(txn, LABEL_ENTITIES), [*head, 0, ""], txn, seen=False))
        return True

    def _calls(
        self,
        blocks: list[_Block],
        head: list[Any],
        txn: Transaction,
        *,
        seen: bool = True,
        marker: str | None = None,
    ) -> list[Call]:
        """Script calls for the blocks: one, or one per block on a cluster. `marker` goes first
        in the (single) call's keys; `seen=False` leaves the seen sets out (label events touch
        only the entity state, and name only each block's kind)."""
        groups = [[block] for block in blocks] if self.per_entity_calls else [blocks]
        calls: list[Call] = []
        for group in groups:
            call_keys = [] if marker is None else [marker]
            call_args = list(head)
            for block in group:
                call_keys += block.keys if seen else block.keys[:1]
                call_args += block.args(txn.attributes) if seen else [block.entity.name]
            if call_keys:
                calls.append((call_keys, call_args))
        return calls

    async def _run(self, calls: Sequence[Call]) -> list[Any]:
        replies: list[Any] = await self._guard(self._pipeline(calls))
        missing = [i for i, r in enumerate(replies) if isinstance(r, redis_errors.NoScriptError)]
        if missing:
            # A new or restarted server has no script cache: load the script and run again
            # only the calls it refused (the others have been applied already).
            await self._guard(self.client.script_load(ENTITY_SCRIPT))
            again = await self._guard(self._pipeline([calls[i] for i in missing]))
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise FeatureStoreUnavailableError(f"Redis failed a call: {reply}") from reply
        return replies

    async def _claim(self, marker: str, fingerprint: str) -> Any:
        """SET NX GET of the idempotency marker, on a cluster: None when this call claimed it,
        else the fingerprint of the call that did. The service's client sends it once, never
        again after a failure (`feature_store.cluster`): a claim whose reply was lost would
        find itself."""
        assert isinstance(self.client, RedisCluster)
        return await self.client.set(marker, fingerprint, nx=True, px=self.dedup_ms, get=True)

    async def _pipeline(self, calls: Sequence[Call]) -> list[Any]:
        """Replies (or the server's error) of each call, in order."""
        if isinstance(self.client, RedisCluster):
            pipe = self.client.pipeline(transaction=False)
            for call_keys, call_args in calls:
                pipe.execute_command(
                    "EVALSHA", ENTITY_SCRIPT_SHA, len(call_keys), *call_keys, *call_args
                )
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            return replies
        # A single server gets one call per request (see `_calls`): no pipeline needed.
        out: list[Any] = []
        for call_keys, call_args in calls:
            try:
                out.append(
                    await self.client.execute_command(
                        "EVALSHA", ENTITY_SCRIPT_SHA, len(call_keys), *call_keys, *call_args
                    )
                )
            except redis_errors.ResponseError as exc:
                out.append(exc)
        return out

    async def _guard(self, awaitable: Any) -> Any:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await awaitable
        except TimeoutError as exc:
            raise FeatureStoreTimeoutError(
                f"Redis did not answer within {self.timeout_seconds * 1000:.0f} ms"
            ) from exc
        except redis_errors.TimeoutError as exc:
            raise FeatureStoreTimeoutError(f"Redis timed out: {exc}") from exc
        except redis_errors.RedisError as exc:
            raise FeatureStoreUnavailableError(f"Redis failed: {exc}") from exc
        except OSError as exc:
            raise FeatureStoreUnavailableError(f"Redis unreachable: {exc}") from exc


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _inputs(txn: Transaction, aggregates: Mapping[str, float]) -> dict[str, Any]:
    return {**txn.attributes, **aggregates, "ts_ms": txn.ts_ms, "amount_cents": txn.amount_cents}


def feature_values(txn: Transaction, aggregates: Mapping[str, float]) -> list[float]:
    """The model's features of `txn` in definition order, from the aggregates read for it."""
    inputs = _inputs(txn, aggregates)
    return [feature.one(inputs) for feature in FEATURES]


def rule_feature_values(txn: Transaction, aggregates: Mapping[str, float]) -> dict[str, float]:
    """The features declared for policy rules only, by name, from the same aggregates."""
    inputs = _inputs(txn, aggregates)
    return {feature.name: feature.one(inputs) for feature in RULE_FEATURES}


def _blocks(txn: Transaction, entities: Sequence[Entity]) -> list[_Block]:
    out = []
    for entity in entities:
        entity_id = txn.attributes.get(entity.column)
        if entity_id:
            out.append(_Block(entity, entity_id, SEEN_BY_ENTITY[entity]))
    return out


def _block_keys(entity: Entity) -> list[str]:
    """Aggregate names of one block of a reply, in reply order (as entity.lua writes them for
    the entity's plan): a count and a sum per window, the previous time, the known fraud count,
    transactions and frauds per matured window, a distinct count and an is-new flag per seen
    set."""
    plan = PLANS[entity]
    names = [key for w in plan.windows for key in (count_key(entity, w), sum_key(entity, w))]
    if plan.previous:
        names.append(previous_key(entity))
    if plan.known_window is not None:
        names.append(fraud_count_key(entity, plan.known_window))
    for days in plan.matured_days:
        names += [matured_count_key(entity, days), matured_fraud_key(entity, days)]
    for seen in plan.seen_sets:
        names += [distinct_key(seen), new_key(seen)]
    return names


BLOCK_KEYS = {entity: _block_keys(entity) for entity in ENTITIES}
MISSING_AGGREGATES = {name: NAN for names in BLOCK_KEYS.values() for name in names}


def _read_block(block: _Block, values: Sequence[int], start: int, out: dict[str, float]) -> int:
    """Name one block's values; returns where the next block starts."""
    names = BLOCK_KEYS[block.entity]
    for offset, name in enumerate(names):
        value = values[start + offset]
        out[name] = NAN if value < 0 else float(value)
    return start + len(names)
