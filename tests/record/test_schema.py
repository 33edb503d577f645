"""The schema version check, concurrent upgrades and retention, against a real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
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
UPGRADERS = 6  # pods of a rollout starting together
# What the migrations made in the public schema: relations (tables, partitions, indexes, views,
# sequences) and functions, each with its kind; the same as a database migrated once, or not.
CATALOGUE = """
SELECT 'relation', relname, relkind::text FROM pg_class
WHERE relnamespace = 'public'::regnamespace
UNION ALL
SELECT 'function', proname, pg_get_function_identity_arguments(oid) FROM pg_proc
WHERE pronamespace = 'public'::regnamespace
ORDER BY 1, 2, 3
"""


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


# A pod's start, up to the upgrade: imported, it says so, waits for the word, then upgrades.
UPGRADER = """
import sys
from record import schema
print("ready", flush=True)
sys.stdin.readline()
schema.upgrade(sys.argv[1])
"""


def _catalogue(url: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    with psycopg.connect(url) as connection:
        versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        return connection.execute(CATALOGUE).fetchall(), versions


def test_concurrent_upgrades_of_a_fresh_database_leave_one_schema(
    make_database: Callable[..., str], record_url: str
) -> None:
    """Each in a process of its own (as pods are), released at once when all are ready: the
    advisory lock lets one migrate; the others wait for it and find the schema at head."""
    url = make_database()
    upgraders = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADER, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(UPGRADERS)
    ]
    try:
        for process in upgraders:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in upgraders:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        errors = [process.communicate(timeout=180)[1] for process in upgraders]
    finally:
        for process in upgraders:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [process.returncode for process in upgraders] == [0] * UPGRADERS, errors
    assert schema.check(url) == schema.head_revision()
    made, versions = _catalogue(url)
    assert versions == [(schema.head_revision(),)]
    assert made == _catalogue(record_url)[0]  # as migrated once (the template)
    assert ("relation", "decisions", "p") in made


@pytest.mark.parametrize(
    "command",
    [["db", "check"], ["db", "upgrade"], ["recorder"], ["serve", "--workers", "1", "--dev"]],
    ids=["db check", "db upgrade", "recorder", "serve"],
)
def test_a_process_refuses_a_newer_schema(record_url: str, command: list[str]) -> None:
    with psycopg.connect(record_url) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    # The Redis URL is never reached: the schema is checked first.
    redis = ["--redis-url", "redis://127.0.0.1:1/0"] if command[0] != "db" else []
    ran = subprocess.run(
        [sys.executable, "-m", "riskscore.cli", *command, "--database-url", record_url, *redis],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    assert "'9999_from_the_future', which this build does not know" in ran.stderr


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
