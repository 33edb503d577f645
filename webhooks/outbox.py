"""The outbox: an event and its pending deliveries written in the caller's transaction, so an
event exists if and only if what it reports committed (a rolled-back label, a batch of
decisions written again, leaves none behind).

label / case change -> `emit` (or `emit_many`), decision batch -> `emit_decisions`, in the
same transaction -> `webhook_events` + one `webhook_deliveries` row per enabled subscription
that wants it. An event no subscription wants is not kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection, sql

from webhooks import subscriptions
from webhooks.kinds import DECISION_CREATED, EVENT_KINDS, OUTCOMES
from webhooks.payloads import DECISION_PAYLOAD

INSERT_EVENTS = """
INSERT INTO webhook_events (event_id, kind, payload)
SELECT event_id, %s, payload::json FROM unnest(%s::uuid[], %s::text[]) AS e (event_id, payload)
"""
INSERT_DELIVERIES = """
INSERT INTO webhook_deliveries (event_id, subscription_id)
SELECT * FROM unnest(%s::uuid[], %s::uuid[])
"""

# decision.created for decisions just written, in one statement: each event built from its row
# of `decisions`, found by its key with one probe of the primary key in its day's partition
# (LIMIT 1: a key is one row; it keeps the planner from joining whole partitions instead),
# with a delivery per (subscription, outcome) pair that takes its decision. The keys go in
# binary (%b), as the writer's claim sends them; `new` is materialized: one uuid an event.
INSERT_DECISION_EVENTS = sql.SQL("""
WITH wanting (subscription_id, outcome) AS (
  SELECT * FROM unnest(%(subscriptions)s::uuid[], %(outcomes)s::text[])
), new AS MATERIALIZED (
  SELECT gen_random_uuid() AS event_id, found.decision, found.payload
  FROM unnest(%(decided_at)b::timestamptz[], %(transaction_ids)b::text[])
    AS k (decided_at, transaction_id)
  CROSS JOIN LATERAL (
    SELECT d.decision, {payload} AS payload FROM decisions d
    WHERE d.decided_at = k.decided_at AND d.transaction_id = k.transaction_id LIMIT 1
  ) AS found
), events AS (
  INSERT INTO webhook_events (event_id, kind, payload)
  SELECT event_id, %(kind)s, payload FROM new
)
INSERT INTO webhook_deliveries (event_id, subscription_id)
SELECT new.event_id, wanting.subscription_id FROM new JOIN wanting ON wanting.outcome = new.decision
""").format(payload=DECISION_PAYLOAD)


async def emit(connection: AsyncConnection, kind: str, payload: Mapping[str, Any]) -> str | None:
    """Write one event of `kind` with a pending delivery per subscription that wants it, in
    the transaction `connection` is in (open one around the change it reports). Returns the
    event id, or None when no subscription wants it.

    >>> async with connection.transaction():
    ...     case = await open_case(connection, decision)
    ...     await emit(connection, "case.opened", {"case_id": case.id, ...})
    """
    (event_id,) = await emit_many(connection, kind, [payload])
    return event_id


async def emit_many(
    connection: AsyncConnection, kind: str, payloads: Sequence[Mapping[str, Any]]
) -> list[str | None]:
    """`emit` for many events of one kind in two statements; the ids in the order of
    `payloads`, all None when no subscription wants the kind. Every subscription to the kind
    takes every event: outcome filters are decision.created's (`emit_decisions`)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"{kind!r} is not an event kind ({', '.join(EVENT_KINDS)})")
    wanting = await subscriptions.matching(connection, kind) if payloads else []
    if not wanting:
        return [None] * len(payloads)
    takers = [sid for sid, _ in wanting]
    event_ids = [str(uuid.uuid4()) for _ in payloads]
    texts = [orjson.dumps(payload).decode() for payload in payloads]
    delivery_events = [event_id for event_id in event_ids for _ in takers]
    await connection.execute(INSERT_EVENTS, (kind, event_ids, texts))
    await connection.execute(INSERT_DELIVERIES, (delivery_events, takers * len(event_ids)))
    return list(event_ids)


async def emit_decisions(
    connection: AsyncConnection, keys: Sequence[tuple[datetime, str, str]]
) -> None:
    """decision.created for decisions already in `decisions`, given as (decided_at,
    transaction id, decision), for the subscriptions whose outcome filter takes each; the
    payloads are built by PostgreSQL from the rows (`payloads.DECISION_PAYLOAD`). One query
    when nobody subscribes, one more statement otherwise."""
    wanting = await subscriptions.matching(connection, DECISION_CREATED) if keys else []
    # (subscription, outcome) for each outcome a subscription takes; no filter: all of them
    pairs = [(sid, o) for sid, only in wanting for o in (OUTCOMES if only is None else only)]
    taken = {outcome for _, outcome in pairs}
    wanted = [(decided_at, tid) for decided_at, tid, decision in keys if decision in taken]
    if not wanted:  # no row read for nobody: the recorder's usual case
        return
    parameters = {
        "subscriptions": [sid for sid, _ in pairs],
        "outcomes": [outcome for _, outcome in pairs],
        "decided_at": [decided_at for decided_at, _ in wanted],
        "transaction_ids": [tid for _, tid in wanted],
        "kind": DECISION_CREATED,
    }
    await connection.execute(INSERT_DECISION_EVENTS, parameters)
