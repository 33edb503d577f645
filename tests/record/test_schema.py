"""The schema version check and retention, against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from record import partitions, schema
from record.errors import SchemaVersionError
from record.writer import DecisionWriter
from tests.record.conftest import connect, count_recorded, run
from tests.record.records import record_body

pytestmark = pytest.mark.postgres


def test_upgrade_brings_a_fresh_database_to_head(make_database: Callable[..., str]) -> None:
    url = make_database()
    with pytest.raises(SchemaVersionError, match="riskscore db upgrade"):
        schema.check(url)  # never migrated: behind
    assert schema.upgrade(url) == schema.head_revision()
    assert schema.check(url) == schema.head_revision()


def test_a_newer_schema_is_refused(record_url: str) -> None:
    with psycopg.connect(record_url) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(SchemaVersionError, match="does not know"):
        schema.check(record_url)
    with pytest.raises(SchemaVersionError, match="does not know"):
        schema.upgrade(record_url)


def test_maintenance_drops_expired_days_with_their_records(record_url: str) -> None:
    today = datetime.now(UTC).date()
    old_ms = int((datetime.now(UTC) - timedelta(days=200)).timestamp() * 1000)

    async def scenario() -> partitions.Maintenance:
        async with await connect(record_url) as connection:
            await DecisionWriter().write(
                connection, [record_body("tx-old", decided_at_ms=old_ms), record_body("tx-new")]
            )
            done = await partitions.maintain(connection, retention_days=180)
            days = await partitions.partition_days(connection)
            assert min(days) >= today - timedelta(days=180)
            assert max(days) == today + timedelta(days=partitions.DEFAULT_DAYS_AHEAD)
            return done

    done = run(scenario())
    assert done.dropped == 1
    assert count_recorded(record_url) == (1, 1, 1)


def test_every_partition_compresses_the_large_documents_with_lz4(record_url: str) -> None:
    """pglz on a record's attributions cost as much as the rest of its COPY (docs/record.md)."""
    with psycopg.connect(record_url, autocommit=True) as connection:
        connection.execute("SELECT record_create_partitions(current_date, current_date + 30)")
        rows = connection.execute(
            """
            SELECT c.relname, a.attname, a.attcompression
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_attribute a ON a.attrelid = c.oid
            WHERE i.inhparent = 'decisions'::regclass
              AND a.attname IN ('features', 'reasons', 'attributions')
            """
        ).fetchall()
    if not rows or {compression for _, name, compression in rows if name == "features"} != {"l"}:
        pytest.skip("this PostgreSQL build has no lz4")
    assert len(rows) >= 3 * 31
    assert {(name, compression) for _, name, compression in rows} == {
        ("features", "l"),
        ("reasons", "l"),
        ("attributions", "l"),
    }
