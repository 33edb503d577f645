"""Reading recorded decisions: the queries on `decisions` that pages and routes need.

`record.writer` writes the rows -> `find_decision` / `list_decisions` / `transaction_timeline`
-> routes, pages, label validation (`record.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row

from record.pages import Keyset

# `features` as a name -> value object, from the row's values and its layout's names (0006).
COLUMNS = """
  d.transaction_id, d.decided_at, d.occurred_at, d.decision, d.score, d.margin, d.degraded,
  record_major_units(d.amount_minor, d.currency)::float8 AS amount, d.amount_minor, d.currency,
  d.card_id, d.card_bin, d.card_country, d.merchant_id, d.merchant_mcc, d.merchant_country,
  d.customer_id, d.email_domain, d.customer_account_age_days, d.device_id, d.ip, d.ip_country,
  d.channel, d.billing_country, d.shipping_country, d.reasons, d.rules_matched,
  d.shadow_rules_matched, d.expired_rules, record_features(fl.feature_names, d.features)
  AS features, d.timings_us, d.model_version,
  d.policy_version, d.feature_set_version, d.fingerprint, d.recorded_at, d.attributions,
  d.failed_rules, d.degraded_cause
"""
FIND = f"""
SELECT {COLUMNS}
FROM recorded_transactions r
JOIN decisions d ON d.decided_at = r.decided_at AND d.transaction_id = r.transaction_id
LEFT JOIN feature_layouts fl ON fl.feature_layout = d.feature_layout
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
LEFT JOIN feature_layouts fl ON fl.feature_layout = d.feature_layout
LEFT JOIN LATERAL (
  SELECT kind, reported_at FROM current_labels WHERE transaction_id = d.transaction_id
) c ON true
WHERE (%(decision)s::text IS NULL OR d.decision = %(decision)s)
  AND (%(since)s::timestamptz IS NULL OR d.decided_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR d.decided_at < %(until)s)
  AND (%(rule)s::text IS NULL OR %(rule)s = ANY(d.rules_matched))
  AND (%(shadow_rule)s::text IS NULL OR %(shadow_rule)s = ANY(d.shadow_rules_matched))
  AND (%(card_id)s::text IS NULL OR d.card_id = %(card_id)s)
  AND (%(merchant_id)s::text IS NULL OR d.merchant_id = %(merchant_id)s)
  AND (%(device_id)s::text IS NULL OR d.device_id = %(device_id)s)
  AND (%(degraded)s::boolean IS NULL OR d.degraded = %(degraded)s)
  AND (%(labelled)s::boolean IS NULL OR (c.kind IS NOT NULL) = %(labelled)s)
  AND (%(after_at)s::timestamptz IS NULL
       OR (d.decided_at, d.transaction_id) < (%(after_at)s, %(after_id)s::text))
ORDER BY d.decided_at DESC, d.transaction_id DESC
LIMIT %(limit)s
"""
DECISION_PAGES = Keyset("decided_at", "transaction_id", str, "decisions")


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
    device_id: str | None = None


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
    found, next_cursor = await DECISION_PAGES.page(
        connection, LIST, filters.__dict__, cursor, limit
    )
    return Page(found, next_cursor)


# What the live rule report needs of each decision in a window: the rules matched (live and
# shadow), what was decided, the score, the amount in USD and the current label (NULL: none).
OUTCOMES = """
SELECT d.decision, d.score, d.rules_matched, d.shadow_rules_matched,
  coalesce(record_feature(fl.feature_names, d.features, 'amount_usd')::float8, 0) AS amount_usd,
  c.is_fraud
FROM decisions d LEFT JOIN current_labels c USING (transaction_id)
LEFT JOIN feature_layouts fl ON fl.feature_layout = d.feature_layout
WHERE d.decided_at >= %s AND d.decided_at < %s
"""


@dataclass(frozen=True)
class DecisionOutcome:
    decision: str
    score: float | None  # None when the decision was degraded without a score
    rules_matched: list[str]
    shadow_rules_matched: list[str]
    amount_usd: float
    is_fraud: bool | None  # the current label; None while unlabelled


async def decision_outcomes(
    connection: AsyncConnection, since: datetime, until: datetime
) -> list[DecisionOutcome]:
    """Every decision made in [since, until) with the rules it matched and its current label."""
    cursor = connection.cursor(row_factory=class_row(DecisionOutcome))
    await cursor.execute(OUTCOMES, (since, until))
    return await cursor.fetchall()
