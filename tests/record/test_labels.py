"""Label events against a real PostgreSQL: every report kept, the latest one current."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from record.decisions import DecisionFilter, list_decisions
from record.errors import LabelError, UnknownTransactionError
from record.labels import LabelEvent, add_label, current_label, decision_with_labels
from record.writer import DecisionWriter
from tests.record.conftest import connect, run
from tests.record.records import record_body

pytestmark = pytest.mark.postgres
NOW_MS = int(time.time() * 1000)
OCCURRED = datetime.fromtimestamp((NOW_MS - 90 * 86_400_000) / 1000, UTC)  # 90 days ago


async def recorded(url: str, *ids: str) -> None:
    bodies = [
        record_body(
            tid,
            occurred_at_ms=NOW_MS - 90 * 86_400_000,
            decided_at_ms=NOW_MS - 90 * 86_400_000 + 30,
        )
        for tid in ids
    ]
    async with await connect(url) as connection:
        await DecisionWriter().write(connection, bodies)


def event(
    kind: str, reported_at: datetime, transaction_id: str = "tx-1", **others: str
) -> LabelEvent:
    fields: dict[str, Any] = {"source": "api", "reported_by": "key:ops", **others}
    return LabelEvent(transaction_id, kind, reported_at=reported_at, **fields)


def test_a_chargeback_for_a_90_day_old_transaction_is_kept(record_url: str) -> None:
    async def scenario() -> tuple[bool, LabelEvent | None]:
        await recorded(record_url, "tx-1")
        async with await connect(record_url) as connection:
            _stored, created = await add_label(
                connection, event("chargeback", OCCURRED + timedelta(days=89))
            )
            return created, await current_label(connection, "tx-1")

    created, current = run(scenario())
    assert created
    assert current is not None and current.kind == "chargeback" and current.is_fraud
    assert current.received_at is not None and current.event_id is not None


def test_a_reversal_is_a_new_event_and_becomes_current(record_url: str) -> None:
    async def scenario() -> dict[str, Any] | None:
        await recorded(record_url, "tx-1")
        async with await connect(record_url) as connection:
            await add_label(connection, event("chargeback", OCCURRED + timedelta(days=40)))
            await add_label(
                connection,
                event(
                    "confirmed_legitimate", OCCURRED + timedelta(days=60), source="chargeback_file"
                ),
            )
            return await decision_with_labels(connection, "tx-1")

    decision = run(scenario())
    assert decision is not None
    assert [label["kind"] for label in decision["labels"]] == ["chargeback", "confirmed_legitimate"]
    assert decision["label"]["kind"] == "confirmed_legitimate"
    assert decision["label"]["is_fraud"] is False


def test_the_latest_report_wins_whatever_the_order_of_arrival(record_url: str) -> None:
    async def scenario() -> LabelEvent | None:
        await recorded(record_url, "tx-1")
        async with await connect(record_url) as connection:
            await add_label(
                connection, event("confirmed_legitimate", OCCURRED + timedelta(days=60))
            )
            await add_label(
                connection, event("chargeback", OCCURRED + timedelta(days=30))
            )  # older report, sent late
            return await current_label(connection, "tx-1")

    current = run(scenario())
    assert current is not None and current.kind == "confirmed_legitimate"


def test_the_same_report_twice_is_one_event(record_url: str) -> None:
    async def scenario() -> tuple[bool, bool, int]:
        await recorded(record_url, "tx-1")
        async with await connect(record_url) as connection:
            first = event("chargeback", OCCURRED + timedelta(days=50))
            stored, created = await add_label(connection, first)
            again, created_again = await add_label(connection, first)
            assert again.event_id == stored.event_id
            decision = await decision_with_labels(connection, "tx-1")
            assert decision is not None
            return created, created_again, len(decision["labels"])

    assert run(scenario()) == (True, False, 1)


@pytest.mark.parametrize(
    ("reported_at", "field"),
    [
        (OCCURRED - timedelta(seconds=1), "reported_at"),  # before the transaction
        (datetime.now(UTC) + timedelta(hours=1), "reported_at"),  # in the future
        (datetime(2026, 1, 1), "reported_at"),  # no offset
    ],
)
def test_a_report_outside_the_timeline_is_refused_naming_the_field(
    record_url: str, reported_at: datetime, field: str
) -> None:
    async def scenario() -> None:
        await recorded(record_url, "tx-1")
        async with await connect(record_url) as connection:
            await add_label(connection, event("chargeback", reported_at))

    with pytest.raises(LabelError) as raised:
        run(scenario())
    assert raised.value.field == field


def test_an_unknown_kind_is_refused(record_url: str) -> None:
    async def scenario() -> None:
        await recorded(record_url, "tx-1")
        async with await connect(record_url) as connection:
            await add_label(connection, event("stolen", OCCURRED + timedelta(days=1)))

    with pytest.raises(LabelError) as raised:
        run(scenario())
    assert raised.value.field == "kind"


def test_a_label_for_an_unrecorded_transaction_is_unknown(record_url: str) -> None:
    async def scenario() -> None:
        async with await connect(record_url) as connection:
            await add_label(connection, event("chargeback", OCCURRED, transaction_id="tx-never"))

    with pytest.raises(UnknownTransactionError):
        run(scenario())


def test_list_decisions_filters_on_being_labelled(record_url: str) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        await recorded(record_url, "tx-1", "tx-2", "tx-3")
        async with await connect(record_url) as connection:
            await add_label(connection, event("chargeback", OCCURRED + timedelta(days=3), "tx-2"))
            labelled = await list_decisions(connection, DecisionFilter(labelled=True))
            unlabelled = await list_decisions(connection, DecisionFilter(labelled=False))
            return (
                [row["transaction_id"] for row in labelled.decisions],
                sorted(row["transaction_id"] for row in unlabelled.decisions),
            )

    assert run(scenario()) == (["tx-2"], ["tx-1", "tx-3"])
