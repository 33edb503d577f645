"""The outbox: an event and its pending deliveries written in the caller's transaction, so an
event exists if and only if what it reports committed (a rolled-back label, a batch of
decisions written again, leaves none behind).

decision batch / label / case change -> `emit` (or `emit_many`) in the same transaction ->
`webhook_events` + one `webhook_deliveries` row per enabled subscription that wants it. An
event no subscription wants is not kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import AsyncConnection

from webhooks import subscriptions
from webhooks.kinds import EVENT_KINDS

INSERT_EVENTS = """
INSERT INTO webhook_events (event_id, kind, payload)
SELECT event_id, %s, payload::json FROM unnest(%s::uuid[], %s::text[]) AS e (event_id, payload)
"""
INSERT_DELIVERIES = """
INSERT INTO webhook_deliveries (event_id, subscription_id)
SELECT * FROM unnest(%s::uuid[], %s::uuid[])
"""


@dataclass(frozen=True)
class Event:
    """One event to emit: its payload (`data` in the body sent) and, for decision.created,
    the outcome an outcome filter is matched against."""

    payload: Mapping[str, Any]
    outcome: str | None = None


async def emit(
    connection: AsyncConnection, kind: str, payload: Mapping[str, Any], outcome: str | None = None
) -> str | None:
    """Write one event of `kind` with a pending delivery per subscription that wants it, in
    the transaction `connection` is in (open one around the change it reports). Returns the
    event id, or None when no subscription wants it.

    >>> async with connection.transaction():
    ...     case = await open_case(connection, decision)
    ...     await emit(connection, "case.opened", {"case_id": case.id, ...})
    """
    (event_id,) = await emit_many(connection, kind, [Event(payload, outcome)])
    return event_id


async def emit_many(
    connection: AsyncConnection, kind: str, events: Sequence[Event]
) -> list[str | None]:
    """`emit` for many events of one kind in two statements (a batch of decisions); the ids
    in the order of `events`, None where no subscription wants one."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"{kind!r} is not an event kind ({', '.join(EVENT_KINDS)})")
    wanting = await subscriptions.matching(connection, kind) if events else []
    if not wanting:
        return [None] * len(events)
    ids: list[str | None] = []
    event_ids, payloads, delivery_events, delivery_subscriptions = [], [], [], []
    for event in events:
        takers = [sid for sid, outcomes in wanting if _wants(outcomes, event.outcome)]
        if not takers:
            ids.append(None)
            continue
        event_id = str(uuid.uuid4())
        ids.append(event_id)
        event_ids.append(event_id)
        payloads.append(orjson.dumps(event.payload).decode())
        delivery_events += [event_id] * len(takers)
        delivery_subscriptions += takers
    if event_ids:
        await connection.execute(INSERT_EVENTS, (kind, event_ids, payloads))
        await connection.execute(INSERT_DELIVERIES, (delivery_events, delivery_subscriptions))
    return ids


def _wants(outcomes: list[str] | None, outcome: str | None) -> bool:
    return outcomes is None or outcome is None or outcome in outcomes
