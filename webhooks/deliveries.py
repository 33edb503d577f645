"""The delivery queue in PostgreSQL: claiming due deliveries (`FOR UPDATE SKIP LOCKED`, so
several workers in several processes share it), recording what each attempt did, replays,
and what the admin API and the metrics read.

pending --(2xx)--> delivered
pending --(failure, attempts < bound)--> pending again, due after a backoff
pending --(failure, attempts = bound)--> dead --(replay)--> pending
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

# A claimed delivery is leased: due again only after `lease` seconds, so a worker killed while
# sending leaves it to another one then (at least once), and never sooner.
CLAIM = """
WITH due AS (
  SELECT d.delivery_id FROM webhook_deliveries d
  JOIN webhook_subscriptions s USING (subscription_id)
  WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND s.enabled
  ORDER BY d.next_attempt_at
  LIMIT %(limit)s
  FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET attempts = d.attempts + 1, last_attempt_at = now(),
    next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM due, webhook_events e, webhook_subscriptions s
WHERE d.delivery_id = due.delivery_id AND e.event_id = d.event_id
  AND s.subscription_id = d.subscription_id
RETURNING d.delivery_id, d.attempts, d.subscription_id::text, e.event_id::text, e.kind,
  e.created_at, e.payload::text AS payload, s.url, s.secret_sealed
"""
# An outcome counts only for the attempt it reports (a worker whose lease ran out and whose
# delivery was claimed again by another reports into nothing).
OUTCOMES = """
UPDATE webhook_deliveries d SET
  status = CASE WHEN o.ok THEN 'delivered' WHEN d.attempts >= %(bound)s THEN 'dead'
           ELSE 'pending' END,
  delivered_at = CASE WHEN o.ok THEN now() END,
  next_attempt_at = CASE WHEN o.ok OR d.attempts >= %(bound)s THEN now()
                    ELSE now() + make_interval(secs => o.retry_seconds) END,
  last_status = o.http_status, last_error = o.error
FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(ok)s::bool[], %(statuses)s::int[],
            %(errors)s::text[], %(retries)s::float8[])
  AS o (delivery_id, attempts, ok, http_status, error, retry_seconds)
WHERE d.delivery_id = o.delivery_id AND d.attempts = o.attempts AND d.status = 'pending'
RETURNING d.delivery_id, d.status
"""
LIST = """
SELECT d.delivery_id, d.event_id::text, e.kind, d.status, d.attempts, d.next_attempt_at,
  d.last_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at
FROM webhook_deliveries d JOIN webhook_events e USING (event_id)
WHERE d.subscription_id = %(subscription_id)s
  AND (%(status)s::text IS NULL OR d.status = %(status)s)
  AND (%(before)s::bigint IS NULL OR d.delivery_id < %(before)s)
ORDER BY d.delivery_id DESC
LIMIT %(limit)s
"""
REPLAY_DEAD = """
UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
  last_error = NULL
WHERE subscription_id = %s AND status = 'dead'
"""
# Every event since the time that the subscription wants now, delivered, dead or never sent
# to it (created after the event, or filtered then): pending, from the first attempt.
REPLAY_SINCE = """
INSERT INTO webhook_deliveries (event_id, subscription_id)
SELECT e.event_id, s.subscription_id
FROM webhook_events e JOIN webhook_subscriptions s ON s.subscription_id = %(subscription_id)s
WHERE e.created_at >= %(since)s AND e.kind = ANY (s.kinds)
  AND (e.kind <> 'decision.created' OR s.outcomes IS NULL
       OR e.payload ->> 'decision' = ANY (s.outcomes))
ON CONFLICT (subscription_id, event_id) DO UPDATE
SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
    delivered_at = NULL
"""
DEPTH = """
SELECT count(*) FILTER (WHERE status = 'pending'),
  count(*) FILTER (WHERE status = 'dead'),
  extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending'))
FROM webhook_deliveries WHERE status <> 'delivered'
"""
# Events past the retention go with their deliveries, unless one is still pending.
PURGE = """
DELETE FROM webhook_events e
WHERE e.created_at < now() - make_interval(days => %s)
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                  WHERE d.event_id = e.event_id AND d.status = 'pending')
"""


@dataclass(frozen=True)
class Due:
    """A claimed delivery: what to send, where, and which attempt this is."""

    delivery_id: int
    attempts: int
    subscription_id: str
    event_id: str
    kind: str
    created_at: datetime
    payload: str  # the event's data, JSON text as stored
    url: str
    secret_sealed: str

    def body(self) -> bytes:
        """The bytes sent and signed: id, kind, creation time and the event's data."""
        head = (
            f'{{"id":"{self.event_id}","kind":"{self.kind}",'
            f'"created_at":"{self.created_at.isoformat()}","data":'
        )
        return (head + self.payload + "}").encode()


@dataclass(frozen=True)
class Attempt:
    """What one attempt did: ok (a 2xx), the HTTP status if any, why it failed, and when the
    next attempt is due if it failed (seconds from now)."""

    due: Due
    ok: bool
    http_status: int | None
    error: str | None
    retry_seconds: float


@dataclass(frozen=True)
class QueueDepth:
    pending: int
    dead: int
    oldest_pending_seconds: float | None


async def claim(connection: AsyncConnection, limit: int, lease_seconds: float) -> list[Due]:
    """Claim up to `limit` due deliveries (committed at once: other workers skip them)."""
    async with connection.transaction():
        cursor = await connection.execute(CLAIM, {"limit": limit, "lease": lease_seconds})
        rows = await cursor.fetchall()
    return [Due(*row) for row in rows]


async def record_attempts(
    connection: AsyncConnection, attempts: Sequence[Attempt], max_attempts: int
) -> dict[int, str]:
    """Record what the attempts did; returns each one's delivery's status now (a delivery
    another worker took over since is missing: its outcome is that worker's)."""
    if not attempts:
        return {}
    parameters = {
        "bound": max_attempts,
        "ids": [a.due.delivery_id for a in attempts],
        "attempts": [a.due.attempts for a in attempts],
        "ok": [a.ok for a in attempts],
        "statuses": [a.http_status for a in attempts],
        "errors": [a.error for a in attempts],
        "retries": [a.retry_seconds for a in attempts],
    }
    cursor = await connection.execute(OUTCOMES, parameters)
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def list_deliveries(
    connection: AsyncConnection,
    subscription_id: str,
    status: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first; `before` a delivery id to page on."""
    cursor = connection.cursor(row_factory=dict_row)
    parameters = {
        "subscription_id": subscription_id,
        "status": status,
        "before": before,
        "limit": limit,
    }
    await cursor.execute(LIST, parameters)
    return await cursor.fetchall()


async def replay_dead(connection: AsyncConnection, subscription_id: str) -> int:
    """Put a subscription's dead-lettered deliveries back to pending; returns how many."""
    cursor = await connection.execute(REPLAY_DEAD, (subscription_id,))
    return cursor.rowcount


async def replay_since(connection: AsyncConnection, subscription_id: str, since: datetime) -> int:
    """Deliver again every kept event since `since` the subscription wants; returns how many
    deliveries are pending for it now."""
    parameters = {"subscription_id": subscription_id, "since": since}
    cursor = await connection.execute(REPLAY_SINCE, parameters)
    return cursor.rowcount


async def queue_depth(connection: AsyncConnection) -> QueueDepth:
    cursor = await connection.execute(DEPTH)
    row = await cursor.fetchone()
    assert row is not None
    oldest = None if row[2] is None else float(row[2])
    return QueueDepth(int(row[0]), int(row[1]), oldest)


async def purge(connection: AsyncConnection, retention_days: int) -> int:
    """Delete events older than the retention (none with a pending delivery)."""
    cursor = await connection.execute(PURGE, (retention_days,))
    return cursor.rowcount


PEEK = """
SELECT 1 FROM webhook_deliveries d JOIN webhook_subscriptions s USING (subscription_id)
WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND s.enabled
LIMIT 1
"""


async def any_due(connection: AsyncConnection) -> bool:
    """Whether any delivery is due now (nothing claimed)."""
    cursor = await connection.execute(PEEK)
    return await cursor.fetchone() is not None


COUNTS = """
SELECT status, count(*) FROM webhook_deliveries WHERE subscription_id = %s GROUP BY status
"""


async def status_counts(connection: AsyncConnection, subscription_id: str) -> dict[str, int]:
    """How many of a subscription's deliveries are pending, delivered and dead."""
    cursor = await connection.execute(COUNTS, (subscription_id,))
    counts = {"pending": 0, "delivered": 0, "dead": 0}
    counts.update({row[0]: int(row[1]) for row in await cursor.fetchall()})
    return counts
