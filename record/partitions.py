"""Daily partitions of `decisions`: created ahead of time, dropped after the retention.

The recorder calls `maintain` on start and then hourly (and `ensure_days` for a day a batch
needs that it has not seen); `riskscore db maintain` runs it once. SQL functions in migration 0001.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from psycopg import AsyncConnection

DEFAULT_RETENTION_DAYS = 180  # longer than the 120-day chargeback window
DEFAULT_DAYS_AHEAD = 7

CREATE = "SELECT record_create_partitions(%s, %s)"
DROP = "SELECT record_drop_partitions(%s)"
LIST = """
SELECT to_date(substr(c.relname, 11), 'YYYYMMDD')
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'decisions'::regclass AND c.relname ~ '^decisions_[0-9]{8}$'
ORDER BY 1
"""


@dataclass(frozen=True)
class Maintenance:
    """What one maintenance run did."""

    created: int
    dropped: int
    keep_from: date


async def maintain(
    connection: AsyncConnection,
    *,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    days_ahead: int = DEFAULT_DAYS_AHEAD,
    today: date | None = None,
) -> Maintenance:
    """Create the partitions of yesterday to `days_ahead` days from now; drop those of days
    before `today - retention_days`, with their recorded ids and label events."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be >= 1, not {retention_days}")
    today = today or datetime.now(UTC).date()
    keep_from = today - timedelta(days=retention_days)
    async with connection.transaction():
        created = await _scalar(
            connection, CREATE, today - timedelta(days=1), today + timedelta(days=days_ahead)
        )
        dropped = await _scalar(connection, DROP, keep_from)
    return Maintenance(created, dropped, keep_from)


async def ensure_days(connection: AsyncConnection, days: Iterable[date]) -> int:
    """Create the partitions of `days` that do not exist yet, in the caller's transaction."""
    created = 0
    for day in sorted(set(days)):
        created += await _scalar(connection, CREATE, day, day)
    return created


async def partition_days(connection: AsyncConnection) -> list[date]:
    """The days that have a partition, oldest first."""
    cursor = await connection.execute(LIST)
    return [row[0] for row in await cursor.fetchall()]


async def _scalar(connection: AsyncConnection, statement: str, *parameters: object) -> int:
    cursor = await connection.execute(statement, parameters)
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])
