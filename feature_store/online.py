"""The online feature store: one Redis round trip reads every entity's aggregates as they were
before a transaction and records the transaction in them.

transaction -> one `entity.lua` call per entity present, pipelined -> aggregates (the names of
`feature_store.aggregates`) -> features, by the same definitions offline uses. Against a Redis
Cluster the pipeline is split by node: one round trip per node involved.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from feature_store import keys
from feature_store.aggregates import (
    ENTITIES,
    LABEL_ENTITIES,
    LABEL_WINDOW,
    PREVIOUS_ENTITIES,
    SEEN_SETS,
    Entity,
    SeenSet,
    count_key,
    distinct_key,
    fraud_count_key,
    new_key,
    previous_key,
    sum_key,
    txn_country,
)
from feature_store.currency import usd_cents
from feature_store.windows import RETENTION_SECONDS, WINDOW_30D, WINDOWS

Client = Redis | RedisCluster
NAN = math.nan
SCRIPT = resources.files(__package__).joinpath("entity.lua").read_text()
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()


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
    attributes: Mapping[str, str | None]

    @classmethod
    def build(
        cls,
        transaction_id: str,
        ts_ms: int,
        amount: float,
        currency: str,
        attributes: Mapping[str, str | None],
    ) -> Transaction:
        """With the derived attributes the stores share: USD cents and the transaction country."""
        derived = dict(attributes)
        derived["txn_country"] = txn_country(
            attributes.get("ip_country"), attributes.get("merchant_country")
        )
        return cls(transaction_id, ts_ms, usd_cents(amount, currency), derived)


@dataclass(frozen=True)
class _EntityPlan:
    """The fixed part of one entity's script call, worked out once."""

    entity: Entity
    seen_sets: tuple[SeenSet, ...]
    static_args: tuple[int, ...]


def _plan(entity: Entity) -> _EntityPlan:
    previous = (WINDOW_30D.bucket_ms, WINDOW_30D.bucket_count)
    labels = (LABEL_WINDOW.bucket_ms, LABEL_WINDOW.bucket_count)
    args = (
        *(previous if entity in PREVIOUS_ENTITIES else (0, 0)),
        *(labels if entity in LABEL_ENTITIES else (0, 0)),
        len(WINDOWS),
        *(n for w in WINDOWS for n in (w.bucket_ms, w.bucket_count)),
    )
    seen = tuple(s for s in SEEN_SETS if s.entity == entity)
    return _EntityPlan(entity, seen, args)


PLANS: tuple[_EntityPlan, ...] = tuple(_plan(entity) for entity in ENTITIES)


class OnlineStore:
    """Reads and updates entity aggregates in Redis.

    >>> store = OnlineStore(Redis.from_url("redis://127.0.0.1:6379/0"), timeout_ms=50)
    >>> aggregates = await store.read_and_update(transaction)
    """

    def __init__(self, client: Client, *, timeout_ms: float = 50.0, dedup_seconds: int = 3600):
        self.client = client
        self.timeout_seconds = timeout_ms / 1000.0
        self.dedup_ms = dedup_seconds * 1000

    async def read_and_update(self, txn: Transaction) -> dict[str, float]:
        """Aggregates of every entity as before `txn`; records `txn` unless already recorded.

        Raises `FeatureStoreTimeoutError` or `FeatureStoreUnavailableError`.
        """
        calls = [(plan, txn.attributes.get(plan.entity.column)) for plan in PLANS]
        present = [(plan, entity_id) for plan, entity_id in calls if entity_id]
        replies = await self._run([self._txn_call(plan, eid, txn) for plan, eid in present])
        aggregates = _missing_aggregates()
        for (plan, _), reply in zip(present, replies, strict=True):
            _fill(plan, reply, aggregates)
        return aggregates

    async def apply_label(self, txn: Transaction, label_ms: int) -> bool:
        """Count a fraud label on `txn`'s entities as known from `label_ms`, once per transaction.

        Returns False when this transaction's fraud label was already counted.
        """
        marker = keys.label_marker_key(txn.transaction_id)
        first = await self._guard(self.client.set(marker, label_ms, nx=True, ex=RETENTION_SECONDS))
        if not first:
            return False
        calls = []
        for entity in LABEL_ENTITIES:
            entity_id = txn.attributes.get(entity.column)
            if entity_id:
                key = keys.windows_key(entity, entity_id)
                label = (LABEL_WINDOW.bucket_ms, LABEL_WINDOW.bucket_count)
                args = ("label", label_ms, 0, txn.transaction_id, RETENTION_SECONDS, 0, 0, 0)
                calls.append(((key,), (*args, *label, 0)))
        await self._run(calls)
        return True

    def _txn_call(
        self, plan: _EntityPlan, entity_id: str, txn: Transaction
    ) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        entity = plan.entity
        call_keys = [keys.windows_key(entity, entity_id), keys.dedup_key(entity, entity_id)]
        args: list[Any] = [
            "txn",
            txn.ts_ms,
            txn.amount_cents,
            txn.transaction_id,
            RETENTION_SECONDS,
            self.dedup_ms,
            *plan.static_args,
        ]
        for seen in plan.seen_sets:
            call_keys.append(keys.seen_set_key(seen, entity_id))
            value = txn.attributes.get(seen.attribute) or ""
            args += [seen.window.bucket_ms, seen.window.bucket_count, value]
        return tuple(call_keys), tuple(args)

    async def _run(self, calls: Sequence[tuple[tuple[str, ...], tuple[Any, ...]]]) -> list[Any]:
        replies: list[Any] = await self._guard(self._pipeline(calls))
        missing = [i for i, r in enumerate(replies) if isinstance(r, redis_errors.NoScriptError)]
        if missing:
            # A new or restarted server has no script cache: load the script and run again
            # only the calls it refused (the others have been applied already).
            await self._guard(self.client.script_load(SCRIPT))
            again = await self._guard(self._pipeline([calls[i] for i in missing]))
            for index, reply in zip(missing, again, strict=True):
                replies[index] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise FeatureStoreUnavailableError(f"Redis failed a call: {reply}") from reply
        return replies

    async def _pipeline(self, calls: Sequence[tuple[tuple[str, ...], tuple[Any, ...]]]) -> Any:
        pipe = self.client.pipeline(transaction=False)
        for call_keys, args in calls:
            pipe.execute_command("EVALSHA", SCRIPT_SHA, len(call_keys), *call_keys, *args)
        return await pipe.execute(raise_on_error=False)

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


def _missing_aggregates() -> dict[str, float]:
    aggregates: dict[str, float] = {}
    for plan in PLANS:
        _fill(plan, None, aggregates)
    return aggregates


def _fill(plan: _EntityPlan, reply: Sequence[int] | None, out: dict[str, float]) -> None:
    """Name the values of one entity's reply, or mark them missing when there is none."""
    values = iter(reply[1:]) if reply is not None else None

    def take() -> float:
        if values is None:
            return NAN
        value = next(values)
        return NAN if value < 0 else float(value)

    entity = plan.entity
    for window in WINDOWS:
        out[count_key(entity, window)] = take()
        out[sum_key(entity, window)] = take()
    prev, frauds = take(), take()
    if entity in PREVIOUS_ENTITIES:
        out[previous_key(entity)] = prev
    if entity in LABEL_ENTITIES:
        out[fraud_count_key(entity, LABEL_WINDOW)] = frauds
    for seen in plan.seen_sets:
        out[distinct_key(seen)] = take()
        out[new_key(seen)] = take()
