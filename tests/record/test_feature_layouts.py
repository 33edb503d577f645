"""Features stored by position (migration 0006): written, read back by name, registered, and
converted by the migration and back by its downgrade, against a real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
import sqlalchemy
from alembic import command
from sqlalchemy.pool import NullPool

from record import feature_layouts, schema
from record.decisions import decision_outcomes, find_decision
from record.writer import DecisionWriter
from scoring.record_codec import FEATURE_LAYOUT, FEATURE_ORDER
from tests.record.conftest import connect, run
from tests.record.records import make_record

pytestmark = pytest.mark.postgres


def write(url: str, records: list[dict[str, Any]], writer: DecisionWriter | None = None) -> int:
    async def scenario() -> int:
        async with await connect(url) as connection:
            bodies = [orjson.dumps(record) for record in records]
            return (await (writer or DecisionWriter()).write(connection, bodies)).new

    return run(scenario())


def found_features(url: str, transaction_id: str) -> Any:
    async def scenario() -> Any:
        async with await connect(url) as connection:
            found = await find_decision(connection, transaction_id)
            assert found is not None
            return found["features"]

    return run(scenario())


def stored(url: str, transaction_id: str) -> tuple[Any, str | None]:
    """The row's `features` column as stored, and its layout."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT features, feature_layout FROM decisions WHERE transaction_id = %s",
            (transaction_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def by_name(record: dict[str, Any]) -> dict[str, Any]:
    return dict(zip(FEATURE_ORDER, record["features"], strict=True))


def test_a_record_keeps_its_values_by_position_and_reads_them_by_name(record_url: str) -> None:
    records = [make_record(f"tx-pos-{i}") for i in range(40)]
    records[0]["features"][3] = None  # a missing value
    assert write(record_url, records) == 40
    features, layout = stored(record_url, "tx-pos-0")
    assert layout == FEATURE_LAYOUT and features == records[0]["features"]
    found = found_features(record_url, "tx-pos-0")
    assert found == by_name(records[0]) and list(found) == list(FEATURE_ORDER)
    assert found[FEATURE_ORDER[3]] is None
    with psycopg.connect(record_url) as connection:
        (toasted,) = connection.execute(  # type: ignore[misc]
            """
            SELECT sum(pg_relation_size(c.reltoastrelid)) FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'decisions'::regclass
            """
        ).fetchone()
    assert toasted == 0  # every row whole in its page, nothing compressed or out of line


def test_a_record_of_an_older_layout_is_recorded_as_it_came(record_url: str) -> None:
    old = make_record("tx-object", positional=False)
    new = make_record("tx-array")
    old["features"]["amount_usd"], new["features"][FEATURE_ORDER.index("amount_usd")] = 12.5, 40.0
    assert write(record_url, [old, new]) == 2
    assert stored(record_url, "tx-object") == (old["features"], None)
    assert found_features(record_url, "tx-object") == old["features"]

    async def outcomes() -> list[float]:
        async with await connect(record_url) as connection:
            now = datetime.now(UTC)
            found = await decision_outcomes(connection, now - timedelta(hours=1), now)
            return sorted(outcome.amount_usd for outcome in found)

    assert run(outcomes()) == [12.5, 40.0]  # the live rule report reads both forms


def test_the_writer_registers_its_layout_and_keeps_records_of_an_unknown_one(
    record_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(record_url, autocommit=True) as connection:
        connection.execute("DELETE FROM feature_layouts")
    writer = DecisionWriter(layouts=[FEATURE_ORDER])
    ours = make_record("tx-ours")
    assert write(record_url, [ours], writer) == 1
    assert found_features(record_url, "tx-ours") == by_name(ours)

    names = ("amount_usd", "card_txn_count_1h")
    foreign = make_record(
        "tx-foreign", features=[1.0, 2.0], feature_layout=feature_layouts.layout_of(names)
    )
    with caplog.at_level(logging.ERROR, logger="record.writer"):
        assert write(record_url, [foreign], writer) == 1  # recorded all the same: nothing lost
    assert f"feature layout {foreign['feature_layout']}, which no build registered" in caplog.text
    assert found_features(record_url, "tx-foreign") is None  # no names yet

    async def register() -> set[str]:
        async with await connect(record_url) as connection:
            layout = foreign["feature_layout"]
            return await feature_layouts.ensure(connection, {layout}, [names])

    assert run(register()) == {foreign["feature_layout"]}
    assert found_features(record_url, "tx-foreign") == {"amount_usd": 1.0, "card_txn_count_1h": 2.0}


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    engine = sqlalchemy.create_engine(schema.sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.begin() as connection:
            move = command.downgrade if down else command.upgrade
            move(schema._config(connection), revision)
    finally:
        engine.dispose()


def test_migration_0006_converts_the_rows_and_its_downgrade_restores_them(
    record_url: str,
) -> None:
    old, new = make_record("tx-was-object", positional=False), make_record("tx-was-array")
    assert write(record_url, [old, new]) == 2
    migrate(record_url, "0005", down=True)
    with psycopg.connect(record_url) as connection:
        found = connection.execute("SELECT transaction_id, features FROM decisions").fetchall()
    rows: dict[str, Any] = dict(found)
    assert rows == {"tx-was-object": old["features"], "tx-was-array": by_name(new)}

    migrate(record_url, "head")
    assert stored(record_url, "tx-was-object") == (list(old["features"].values()), FEATURE_LAYOUT)
    assert stored(record_url, "tx-was-array") == (new["features"], FEATURE_LAYOUT)
    assert found_features(record_url, "tx-was-object") == old["features"]
    assert found_features(record_url, "tx-was-array") == by_name(new)
    with psycopg.connect(record_url) as connection:
        options = connection.execute(
            """
            SELECT DISTINCT c.reloptions FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'decisions'::regclass
            """
        ).fetchall()
    assert options == [(["toast_tuple_target=4080"],)]
