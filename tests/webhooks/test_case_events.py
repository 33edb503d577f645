"""Case changes out, against a real PostgreSQL: a case opened by the recorder and resolved by
an analyst each leave one event in the change's own transaction; claims and notes stay in."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cases.machine import Move, move
from tests.cases.conftest import cases_of, record_only, review, write
from tests.record.conftest import connect, run
from tests.webhooks.conftest import subscribe
from webhooks.sealing import Sealer

pytestmark = pytest.mark.postgres
TARGET = "https://hooks.example.com/cases"


async def _events(url: str) -> list[tuple[str, dict[str, Any]]]:
    async with await connect(url) as connection:
        cursor = await connection.execute(
            "SELECT kind, payload FROM webhook_events ORDER BY created_at, event_id"
        )
        rows = await cursor.fetchall()
    return [
        (kind, payload if isinstance(payload, dict) else orjson.loads(payload))
        for kind, payload in rows
    ]


def test_opening_and_resolving_a_case_each_send_one_event(record_url: str, sealer: Sealer) -> None:
    run(subscribe(record_url, TARGET, sealer, kinds=("case.opened", "case.resolved")))
    run(write(record_url, review("ce-1", "card-ce")))
    run(write(record_url, review("ce-2", "card-ce")))  # linked to the open case: no event
    case_id = int(cases_of(record_url, "card-ce")[-1][0])

    async def work() -> None:
        async with await connect(record_url) as connection:
            await move(connection, record_only, case_id, Move("claim", "ana"))
            await move(connection, record_only, case_id, Move("note", "ana", note="called"))
            await move(connection, record_only, case_id, Move("resolve", "ana", resolution="fraud"))

    run(work())
    events = run(_events(record_url))
    assert [kind for kind, _ in events] == ["case.opened", "case.resolved"]
    opened, resolved = (payload for _, payload in events)
    assert opened["case_id"] == resolved["case_id"] == case_id
    assert opened["transaction_id"] == "ce-1" and opened["status"] == "open"
    assert (resolved["status"], resolved["resolution"], resolved["actor"]) == (
        "resolved",
        "fraud",
        "ana",
    )
