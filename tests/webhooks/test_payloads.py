"""decision.created as a receiver gets it: the recorder's batch hook builds the payload in
PostgreSQL from the rows it wrote; a real worker delivers it to a real receiver, whose body
must hold exactly the fields docs/webhooks.md documents, with the record's values."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from record.writer import DecisionWriter
from tests.record.conftest import connect, run
from tests.record.records import make_record
from tests.webhooks.conftest import SECRET, subscribe
from tests.webhooks.receiver import Receiver
from webhooks.sealing import Sealer
from webhooks.sources import decisions_created
from webhooks.worker import DeliverySettings, DeliveryWorker

pytestmark = pytest.mark.postgres
DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
QUICK = DeliverySettings(concurrency=4, timeout_seconds=2, poll_seconds=0.05)


def documented_fields() -> tuple[set[str], set[str]]:
    """The names of `data`'s fields and of its `transaction` summary, as the event kinds table
    of docs/webhooks.md lists them for decision.created."""
    (row,) = [line for line in DOC.read_text().splitlines() if line.startswith("| `decision.")]
    data = row.split("|")[3]
    top, _, summary = data.partition("`transaction` (")
    names = re.compile(r"`([a-z_]+)`")
    return {*names.findall(top), "transaction"}, set(names.findall(summary))


def _iso(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def _delivered(url: str, sealer: Sealer, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The `data` of each delivery the receiver verified, by transaction id."""
    with Receiver(secret=SECRET) as receiver:

        async def scenario() -> None:
            await subscribe(url, receiver.url, sealer)
            bodies = [orjson.dumps(record) for record in records]
            async with await connect(url) as connection:
                await DecisionWriter(hooks=[decisions_created]).write(connection, bodies)
                worker = DeliveryWorker(url, sealer, QUICK)
                await worker.drain(connection)
            await worker.aclose()

        run(scenario())
    assert all(got.verified and got.kind == "decision.created" for got in receiver.received)
    return {got.body["data"]["transaction_id"]: got.body["data"] for got in receiver.received}


def test_a_delivered_decision_holds_the_documented_fields_with_the_record_values(
    record_url: str, sealer: Sealer
) -> None:
    records = [
        make_record("d-1", decision="decline", rules_matched=["block_list", "high_amount"]),
        make_record("d-2", decision="approve", transaction={"customer_id": None}),
        make_record("d-3", degraded=True, transaction={"amount": 1999.0, "currency": "JPY"}),
    ]
    delivered = _delivered(record_url, sealer, records)
    top, summary = documented_fields()
    assert sorted(delivered) == ["d-1", "d-2", "d-3"]
    for record in records:
        data = delivered[record["transaction_id"]]
        assert set(data) == top and set(data["transaction"]) == summary
        for name in top - {"decided_at", "transaction"}:
            assert data[name] == record[name], name
        assert datetime.fromisoformat(data["decided_at"]) == _iso(record["decided_at_ms"])
        transaction = data["transaction"]
        occurred_at = datetime.fromisoformat(transaction["occurred_at"])
        assert occurred_at == _iso(record["transaction"]["timestamp_ms"])
        for name in summary - {"occurred_at"}:
            assert transaction[name] == record["transaction"][name], name
    assert delivered["d-2"]["transaction"]["customer_id"] is None


def test_the_amount_is_the_one_the_record_keeps_in_minor_units(
    record_url: str, sealer: Sealer
) -> None:
    # 3 decimals of euro are kept as whole cents (rounded half away from zero), as the
    # decisions API gives them; a dinar keeps 3.
    records = [
        make_record("a-1", transaction={"amount": 10.005, "currency": "EUR"}),
        make_record("a-2", transaction={"amount": 0.125, "currency": "KWD"}),
        make_record("a-3", transaction={"amount": 19.99, "currency": "USD"}),
    ]
    delivered = _delivered(record_url, sealer, records)
    amounts = {tid: data["transaction"]["amount"] for tid, data in delivered.items()}
    assert amounts == {"a-1": 10.01, "a-2": 0.125, "a-3": 19.99}
