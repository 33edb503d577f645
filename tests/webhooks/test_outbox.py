"""The outbox against a real PostgreSQL: an event exists iff its transaction committed, with
one pending delivery per enabled subscription that wants it (outcome filters included)."""

from __future__ import annotations

import pytest

from record.writer import DecisionWriter
from tests.record.conftest import connect, run
from tests.record.records import record_body
from tests.webhooks.conftest import subscribe
from webhooks.outbox import emit
from webhooks.sealing import Sealer
from webhooks.sources import decisions_created

pytestmark = pytest.mark.postgres
TARGET = "https://hooks.example.com/in"


class RolledBackError(Exception):
    pass


async def _count(url: str, table: str) -> int:
    async with await connect(url) as connection:
        cursor = await connection.execute(f"SELECT count(*) FROM {table}")
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


def test_an_event_exists_only_if_its_transaction_committed(record_url: str, sealer: Sealer) -> None:
    async def scenario() -> tuple[int, int, int, int, str | None]:
        await subscribe(record_url, TARGET, sealer, kinds=("case.opened",))
        async with await connect(record_url) as connection:
            try:
                async with connection.transaction():
                    await emit(connection, "case.opened", {"case_id": "c-1"})
                    raise RolledBackError
            except RolledBackError:
                pass
            rolled_back = (
                await _count(record_url, "webhook_events"),
                await _count(record_url, "webhook_deliveries"),
            )
            async with connection.transaction():
                event_id = await emit(connection, "case.opened", {"case_id": "c-2"})
        committed = (
            await _count(record_url, "webhook_events"),
            await _count(record_url, "webhook_deliveries"),
        )
        return (*rolled_back, *committed, event_id)

    *counts, event_id = run(scenario())
    assert counts == [0, 0, 1, 1]
    assert event_id is not None


def test_no_event_is_kept_for_nobody(record_url: str, sealer: Sealer) -> None:
    async def scenario() -> tuple[str | None, int]:
        await subscribe(record_url, TARGET, sealer, kinds=("label.recorded",), enabled=False)
        async with await connect(record_url) as connection:
            event_id = await emit(connection, "label.recorded", {"transaction_id": "t"})
        return event_id, await _count(record_url, "webhook_events")

    assert run(scenario()) == (None, 0)  # the only subscription is disabled


def test_emit_refuses_an_unknown_kind(record_url: str) -> None:
    async def scenario() -> None:
        async with await connect(record_url) as connection:
            await emit(connection, "case.deleted", {})

    with pytest.raises(ValueError, match="not an event kind"):
        run(scenario())


def test_decisions_reach_the_subscriptions_whose_outcome_filter_takes_them(
    record_url: str, sealer: Sealer
) -> None:
    decisions = {"o-1": "approve", "o-2": "decline", "o-3": "review", "o-4": "decline"}

    async def scenario() -> dict[str, list[str]]:
        every = await subscribe(record_url, TARGET, sealer)
        risky = await subscribe(record_url, TARGET, sealer, outcomes=["decline", "review"])
        writer = DecisionWriter(hooks=[decisions_created])
        bodies = [record_body(tid, decision=decision) for tid, decision in decisions.items()]
        async with await connect(record_url) as connection:
            await writer.write(connection, bodies)
            await writer.write(connection, bodies)  # again: no new decision, no new event
            cursor = await connection.execute(
                "SELECT d.subscription_id::text, e.payload->>'transaction_id' "
                "FROM webhook_deliveries d JOIN webhook_events e USING (event_id) "
                "ORDER BY 2"
            )
            rows = await cursor.fetchall()
        names = {every.subscription_id: "every", risky.subscription_id: "risky"}
        found: dict[str, list[str]] = {"every": [], "risky": []}
        for subscription_id, transaction_id in rows:
            found[names[subscription_id]].append(transaction_id)
        return found

    assert run(scenario()) == {
        "every": ["o-1", "o-2", "o-3", "o-4"],
        "risky": ["o-2", "o-3", "o-4"],
    }


def test_a_decision_event_holds_the_decision_and_no_more_of_the_transaction(
    record_url: str, sealer: Sealer
) -> None:
    async def scenario() -> dict[str, object]:
        await subscribe(record_url, TARGET, sealer)
        async with await connect(record_url) as connection:
            await DecisionWriter(hooks=[decisions_created]).write(
                connection, [record_body("p-1", decision="review")]
            )
            cursor = await connection.execute("SELECT kind, payload FROM webhook_events")
            row = await cursor.fetchone()
        assert row is not None and row[0] == "decision.created"
        payload: dict[str, object] = row[1]
        return payload

    payload = run(scenario())
    assert payload["transaction_id"] == "p-1" and payload["decision"] == "review"
    assert set(payload) >= {"score", "reasons", "rules_matched", "model_version", "decided_at"}
    summary = payload["transaction"]
    assert isinstance(summary, dict)
    assert summary["card_id"].startswith("card_") and summary["currency"] == "EUR"
    assert "ip" not in summary and "email_domain" not in summary and "features" not in payload
