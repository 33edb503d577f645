"""Recorded decisions: the `decisions` and `recorded_transactions` tables and their queries.

recorder -> `DecisionWriter.write` (COPY raw JSON into a staging table, then one INSERT that
skips ids recorded before) -> `find_decision` / `list_decisions` for pages and routes.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row

from record import partitions
from record.errors import CursorError

STAGE = "CREATE TEMP TABLE IF NOT EXISTS staged_records (body jsonb NOT NULL) ON COMMIT DELETE ROWS"
COPY_STAGED = "COPY staged_records (body) FROM STDIN"
STAGED_DAYS = """
SELECT DISTINCT (to_timestamp((body->>'decided_at_ms')::bigint / 1000.0) AT TIME ZONE 'UTC')::date
FROM staged_records
"""
# The record's JSON (`docs/record.md`) to columns. `fresh` holds only ids never recorded, so a
# record sent twice (a retried XADD, a drained spool, a re-claimed batch) is written once.
INSERT_STAGED = """
WITH staged AS (
  SELECT DISTINCT ON (body->>'transaction_id')
    body->>'transaction_id' AS transaction_id,
    to_timestamp((body->>'decided_at_ms')::bigint / 1000.0) AS decided_at,
    to_timestamp((body->'transaction'->>'timestamp_ms')::bigint / 1000.0) AS occurred_at,
    body, body->'transaction' AS t
  FROM staged_records
  ORDER BY body->>'transaction_id'
), fresh AS (
  INSERT INTO recorded_transactions (transaction_id, decided_at, occurred_at)
  SELECT transaction_id, decided_at, occurred_at FROM staged
  ON CONFLICT (transaction_id) DO NOTHING
  RETURNING transaction_id
)
INSERT INTO decisions (
  transaction_id, decided_at, occurred_at, decision, score, margin, degraded,
  amount_minor, currency, card_id, card_bin, card_country, merchant_id, merchant_mcc,
  merchant_country, customer_id, email_domain, customer_account_age_days, device_id, ip,
  ip_country, channel, billing_country, shipping_country, reasons, rules_matched,
  shadow_rules_matched, expired_rules, features, timings_us, model_version, policy_version,
  feature_set_version, fingerprint)
SELECT
  s.transaction_id, s.decided_at, s.occurred_at, body->>'decision', (body->>'score')::float8,
  (body->>'margin')::float8, (body->>'degraded')::boolean,
  record_minor_units((t->>'amount')::numeric, t->>'currency'), t->>'currency',
  t->>'card_id', t->>'card_bin', t->>'card_country', t->>'merchant_id', t->>'merchant_mcc',
  t->>'merchant_country', t->>'customer_id', t->>'email_domain',
  (t->>'customer_account_age_days')::integer, t->>'device_id', t->>'ip', t->>'ip_country',
  t->>'channel', t->>'billing_country', t->>'shipping_country', body->'reasons',
  body->'rules_matched', body->'shadow_rules_matched', body->'expired_rules', body->'features',
  body->'timings_us', body->>'model_version', body->>'policy_version',
  body->>'feature_set_version', body->>'fingerprint'
FROM staged s JOIN fresh USING (transaction_id)
"""
COLUMNS = """
  d.transaction_id, d.decided_at, d.occurred_at, d.decision, d.score, d.margin, d.degraded,
  record_major_units(d.amount_minor, d.currency)::float8 AS amount, d.amount_minor, d.currency,
  d.card_id, d.card_bin, d.card_country, d.merchant_id, d.merchant_mcc, d.merchant_country,
  d.customer_id, d.email_domain, d.customer_account_age_days, d.device_id, d.ip, d.ip_country,
  d.channel, d.billing_country, d.shipping_country, d.reasons, d.rules_matched,
  d.shadow_rules_matched, d.expired_rules, d.features, d.timings_us, d.model_version,
  d.policy_version, d.feature_set_version, d.fingerprint, d.recorded_at
"""
FIND = f"""
SELECT {COLUMNS}
FROM recorded_transactions r
JOIN decisions d ON d.decided_at = r.decided_at AND d.transaction_id = r.transaction_id
WHERE r.transaction_id = %(transaction_id)s
"""
TIMELINE = """
SELECT occurred_at, decided_at, now() AS now FROM recorded_transactions WHERE transaction_id = %s
"""
# Every filter is optional: NULL switches it off. Run unprepared, so that the planner sees the
# values and drops the switched-off conditions. Newest first; the cursor is the last row's key.
LIST = f"""
SELECT {COLUMNS}, c.kind AS label, c.reported_at AS label_reported_at
FROM decisions d
LEFT JOIN LATERAL (
  SELECT kind, reported_at FROM current_labels WHERE transaction_id = d.transaction_id
) c ON true
WHERE (%(decision)s::text IS NULL OR d.decision = %(decision)s)
  AND (%(since)s::timestamptz IS NULL OR d.decided_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR d.decided_at < %(until)s)
  AND (%(rule)s::text IS NULL OR d.rules_matched ? %(rule)s)
  AND (%(shadow_rule)s::text IS NULL OR d.shadow_rules_matched ? %(shadow_rule)s)
  AND (%(card_id)s::text IS NULL OR d.card_id = %(card_id)s)
  AND (%(merchant_id)s::text IS NULL OR d.merchant_id = %(merchant_id)s)
  AND (%(degraded)s::boolean IS NULL OR d.degraded = %(degraded)s)
  AND (%(labelled)s::boolean IS NULL OR (c.kind IS NOT NULL) = %(labelled)s)
  AND (%(after_at)s::timestamptz IS NULL
       OR (d.decided_at, d.transaction_id) < (%(after_at)s, %(after_id)s::text))
ORDER BY d.decided_at DESC, d.transaction_id DESC
LIMIT %(limit)s
"""
MAX_PAGE_SIZE = 500


def _copy_row(body: bytes) -> bytes:
    """One record as a line of COPY's text format: backslashes and line breaks escaped."""
    return body.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")


class DecisionWriter:
    """Writes batches of records (JSON bytes, as the sink sent them) into `decisions`.

    >>> writer = DecisionWriter()
    >>> async with connection.transaction():
    ...     written = await writer.write(connection, [b'{"transaction_id": ...}'])
    """

    def __init__(self) -> None:
        self.known_days: set[date] = set()  # days whose partition exists

    async def write(self, connection: AsyncConnection, bodies: Sequence[bytes]) -> int:
        """Stage and insert `bodies` in the caller's transaction; returns how many were new."""
        await connection.execute(STAGE)
        async with connection.cursor().copy(COPY_STAGED) as copy:
            await copy.write(b"\n".join(map(_copy_row, bodies)) + b"\n")
        cursor = await connection.execute(STAGED_DAYS)
        days = {row[0] for row in await cursor.fetchall()}
        if days - self.known_days:
            await partitions.ensure_days(connection, days - self.known_days)
        cursor = await connection.execute(INSERT_STAGED)
        self.known_days |= days
        return cursor.rowcount


async def find_decision(connection: AsyncConnection, transaction_id: str) -> dict[str, Any] | None:
    """The recorded decision of `transaction_id` (`record.labels.decision_with_labels` adds
    its labels)."""
    cursor = connection.cursor(row_factory=dict_row)
    await cursor.execute(FIND, {"transaction_id": transaction_id})
    return await cursor.fetchone()


@dataclass(frozen=True)
class Timeline:
    """When a recorded transaction happened and was decided, and the database's `now`."""

    occurred_at: datetime
    decided_at: datetime
    now: datetime


async def transaction_timeline(connection: AsyncConnection, transaction_id: str) -> Timeline | None:
    cursor = connection.cursor(row_factory=class_row(Timeline))
    await cursor.execute(TIMELINE, (transaction_id,))
    return await cursor.fetchone()


@dataclass(frozen=True)
class DecisionFilter:
    """The filters of `GET /v1/decisions`; None leaves one out. Times are [since, until)."""

    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    rule: str | None = None
    shadow_rule: str | None = None
    card_id: str | None = None
    merchant_id: str | None = None
    degraded: bool | None = None
    labelled: bool | None = None


@dataclass(frozen=True)
class Page:
    decisions: list[dict[str, Any]]
    next_cursor: str | None  # None on the last page


async def list_decisions(
    connection: AsyncConnection,
    filters: DecisionFilter,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of decisions, newest first; pass `next_cursor` back for the next one.

    Raises `CursorError` for a cursor this function did not hand out.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    after_at, after_id = decode_cursor(cursor) if cursor else (None, None)
    parameters = {**filters.__dict__, "after_at": after_at, "after_id": after_id, "limit": limit}
    rows = connection.cursor(row_factory=dict_row)
    await rows.execute(LIST, parameters, prepare=False)
    found = await rows.fetchall()
    last = found[-1] if len(found) == limit else None
    next_cursor = encode_cursor(last["decided_at"], last["transaction_id"]) if last else None
    return Page(found, next_cursor)


def encode_cursor(decided_at: datetime, transaction_id: str) -> str:
    raw = orjson.dumps([decided_at.isoformat(), transaction_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decided_at, transaction_id = orjson.loads(raw)
        moment = datetime.fromisoformat(decided_at)
    except (ValueError, TypeError) as exc:
        raise CursorError(f"cursor {cursor!r} is not one a page of decisions handed out") from exc
    if moment.tzinfo is None or not isinstance(transaction_id, str):
        raise CursorError(f"cursor {cursor!r} is not one a page of decisions handed out")
    return moment, transaction_id
