"""Batch hooks against a real PostgreSQL: they see each new decision once, inside the batch's
transaction (what they write commits with it, and their failure rolls the batch back)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest
from psycopg import AsyncConnection

from record.rows import decode
from record.writer import DecisionWriter, NewDecision, RecordView
from tests.record.conftest import connect, run
from tests.record.records import record_body

pytestmark = pytest.mark.postgres


class HookError(Exception):
    pass


def test_a_hook_sees_only_new_decisions_and_writes_in_their_transaction(record_url: str) -> None:
    seen: list[str] = []

    async def note(connection: AsyncConnection, new: Sequence[NewDecision]) -> None:
        seen.extend(decision.transaction_id for decision in new)
        await connection.execute("CREATE TABLE IF NOT EXISTS hook_notes (id text PRIMARY KEY)")
        for decision in new:
            assert decision.record["transaction_id"] == decision.transaction_id
            await connection.execute(
                "INSERT INTO hook_notes VALUES (%s)", (decision.transaction_id,)
            )

    async def write(bodies: list[bytes]) -> list[str]:
        async with await connect(record_url) as connection:
            await DecisionWriter(hooks=[note]).write(connection, bodies)
            cursor = await connection.execute("SELECT id FROM hook_notes ORDER BY id")
            return [row[0] for row in await cursor.fetchall()]

    assert run(write([record_body("hook-1"), record_body("hook-2")])) == ["hook-1", "hook-2"]
    assert run(write([record_body("hook-2"), record_body("hook-3")])) == [
        "hook-1",
        "hook-2",
        "hook-3",
    ]
    assert seen == ["hook-1", "hook-2", "hook-3"]  # hook-2 again is no new decision


def test_a_failing_hook_rolls_the_batch_back(record_url: str) -> None:
    async def fail(connection: AsyncConnection, new: Sequence[NewDecision]) -> None:
        raise HookError("the hook failed")

    async def write(writer: DecisionWriter) -> int:
        async with await connect(record_url) as connection:
            return (await writer.write(connection, [record_body("hook-rolled-back")])).new

    with pytest.raises(HookError):
        run(write(DecisionWriter(hooks=[fail])))
    assert run(write(DecisionWriter())) == 1  # nothing of the failed batch was kept


def test_a_hook_reads_the_record_as_its_json_parsed_would() -> None:
    body = record_body("view-1", opens_case=True, decision="review", failed_rules=["r1"])
    document = orjson.loads(body)
    view = RecordView(body, decode(body))
    assert dict(view) == document
    assert len(view) == len(document)
    for name in document:
        assert view[name] == document[name], name
    assert view["opens_case"] is True
    plain = record_body("view-2")  # no opens_case: absent, as in the dict
    assert "opens_case" not in RecordView(plain, decode(plain))
    assert RecordView(plain, decode(plain)).get("opens_case") is None
    with pytest.raises(KeyError):
        RecordView(plain, decode(plain))["no_such_field"]
