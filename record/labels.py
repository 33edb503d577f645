"""Label events: every label ever reported for a recorded transaction, and the current one.

feedback / chargeback files -> `add_label` (validated against the transaction's timeline) ->
`label_events`; the current label is the `current_labels` view: the latest report wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from record.decisions import Timeline, find_decision, transaction_timeline
from record.errors import LabelError, UnknownTransactionError

LABEL_KINDS = ("chargeback", "confirmed_fraud", "confirmed_legitimate")
FRAUD_KINDS = ("chargeback", "confirmed_fraud")
# A reporter's clock may run a little ahead of ours; beyond this, `reported_at` is refused.
MAX_CLOCK_SKEW = timedelta(seconds=60)

INSERT = """
INSERT INTO label_events (transaction_id, kind, source, reported_at, reported_by)
VALUES (%(transaction_id)s, %(kind)s, %(source)s, %(reported_at)s, %(reported_by)s)
ON CONFLICT (transaction_id, kind, source, reported_at) DO NOTHING
RETURNING transaction_id, kind, source, reported_at, reported_by, received_at, event_id
"""
EXISTING = """
SELECT transaction_id, kind, source, reported_at, reported_by, received_at, event_id
FROM label_events
WHERE transaction_id = %(transaction_id)s AND kind = %(kind)s AND source = %(source)s
  AND reported_at = %(reported_at)s
"""
HISTORY = """
SELECT transaction_id, kind, source, reported_at, reported_by, received_at, event_id
FROM label_events WHERE transaction_id = %s
ORDER BY reported_at, received_at, event_id
"""
CURRENT = """
SELECT transaction_id, kind, source, reported_at, reported_by, received_at, event_id
FROM current_labels WHERE transaction_id = %s
"""


@dataclass(frozen=True)
class LabelEvent:
    """One report about a transaction. `received_at` and `event_id` are set by the record."""

    transaction_id: str
    kind: str
    source: str  # e.g. "api", "chargeback_file", "analyst"
    reported_at: datetime
    reported_by: str
    received_at: datetime | None = None
    event_id: int | None = None

    @property
    def is_fraud(self) -> bool:
        return self.kind in FRAUD_KINDS

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "is_fraud": self.is_fraud}


Validator = Callable[[LabelEvent, Timeline], None]


def check_kind(event: LabelEvent, _timeline: Timeline) -> None:
    if event.kind not in LABEL_KINDS:
        raise LabelError("kind", f"{event.kind!r} is not one of {', '.join(LABEL_KINDS)}")


def check_reported_at(event: LabelEvent, timeline: Timeline) -> None:
    """`reported_at` carries an offset, is not before the transaction and not in the future."""
    reported = event.reported_at
    if reported.tzinfo is None:
        raise LabelError("reported_at", "needs a UTC offset (RFC 3339)")
    if reported < timeline.occurred_at:
        raise LabelError(
            "reported_at",
            f"{reported.isoformat()} is before the transaction "
            f"({timeline.occurred_at.isoformat()}); a label cannot precede what it labels",
        )
    if reported > timeline.now + MAX_CLOCK_SKEW:
        raise LabelError("reported_at", f"{reported.isoformat()} is in the future")


DEFAULT_VALIDATORS: tuple[Validator, ...] = (check_kind, check_reported_at)


async def add_label(
    connection: AsyncConnection,
    event: LabelEvent,
    *,
    validators: Sequence[Validator] = DEFAULT_VALIDATORS,
) -> tuple[LabelEvent, bool]:
    """Record one label event; returns it as stored and whether it is new (False: the same
    report was recorded before, nothing changed). Validators run first, in order.

    Raises `UnknownTransactionError` (no recorded decision) or `LabelError` naming the field.
    """
    timeline = await transaction_timeline(connection, event.transaction_id)
    if timeline is None:
        raise UnknownTransactionError(
            f"no recorded decision for transaction_id {event.transaction_id!r}: never scored "
            "here, not recorded yet, or older than the record's retention"
        )
    for validate in validators:
        validate(event, timeline)
    parameters = asdict(event)
    cursor = connection.cursor(row_factory=class_row(LabelEvent))
    await cursor.execute(INSERT, parameters)
    stored = await cursor.fetchone()
    if stored is not None:
        return stored, True
    await cursor.execute(EXISTING, parameters)
    existing = await cursor.fetchone()
    assert existing is not None, "a conflicting label event is always there to read"
    return existing, False


async def label_history(connection: AsyncConnection, transaction_id: str) -> list[LabelEvent]:
    """Every label event of a transaction, oldest report first."""
    cursor = connection.cursor(row_factory=class_row(LabelEvent))
    await cursor.execute(HISTORY, (transaction_id,))
    return await cursor.fetchall()


async def current_label(connection: AsyncConnection, transaction_id: str) -> LabelEvent | None:
    """The label the transaction has now: the latest report (a reversal makes it legitimate)."""
    cursor = connection.cursor(row_factory=class_row(LabelEvent))
    await cursor.execute(CURRENT, (transaction_id,))
    return await cursor.fetchone()


async def decision_with_labels(
    connection: AsyncConnection, transaction_id: str
) -> dict[str, Any] | None:
    """The recorded decision of `transaction_id` with its label history and current label."""
    decision = await find_decision(connection, transaction_id)
    if decision is None:
        return None
    history = await label_history(connection, transaction_id)
    decision["labels"] = [event.as_dict() for event in history]
    current = await current_label(connection, transaction_id)
    decision["label"] = current.as_dict() if current is not None else None
    return decision
