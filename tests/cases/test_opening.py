"""Opening cases in the recorder's batch (real PostgreSQL): a decision that opens one opens
one, a decision on a card with an unresolved case is linked to it, and by hand on any one."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from cases.machine import Move, move
from cases.opening import open_by_hand, open_cases, opens_case
from cases.queue import case_decisions, case_events
from record.errors import UnknownTransactionError
from record.writer import DecisionWriter
from tests.cases.conftest import cases_of, record_only, review, write
from tests.record.conftest import connect, run
from tests.record.records import record_body

pytestmark = pytest.mark.postgres


def test_a_review_opens_a_case_with_an_opened_event(record_url: str) -> None:
    assert run(write(record_url, review("op-1", "card-op1"))) == 1
    [(case_id, status, transaction_id)] = cases_of(record_url, "card-op1")
    assert (status, transaction_id) == ("open", "op-1")

    async def read() -> tuple[list[str], list[str]]:
        async with await connect(record_url) as connection:
            events = await case_events(connection, case_id)
            linked = await case_decisions(connection, case_id)
        return [e["kind"] + ":" + e["actor"] for e in events], [d["decision"] for d in linked]

    assert run(read()) == (["opened:policy"], ["review"])


def test_decisions_on_a_card_with_an_unresolved_case_are_linked(record_url: str) -> None:
    run(
        write(
            record_url, review("ln-1", "card-ln", score=0.2), review("ln-2", "card-ln", score=0.1)
        )
    )
    run(write(record_url, review("ln-3", "card-ln", score=0.7, rules_matched=["odd_hours"])))
    run(write(record_url, review("ln-4", "card-other")))
    [(case_id, _, opener)] = cases_of(record_url, "card-ln")
    assert opener == "ln-1"
    assert len(cases_of(record_url, "card-other")) == 1

    async def read() -> tuple[list[str], list[str], float, list[str]]:
        async with await connect(record_url) as connection:
            linked = await case_decisions(connection, case_id)
            events = await case_events(connection, case_id)
            cursor = await connection.execute(
                "SELECT score, rules_matched FROM cases WHERE case_id = %s", (case_id,)
            )
            row = await cursor.fetchone()
        assert row is not None
        return [d["transaction_id"] for d in linked], [e["kind"] for e in events], *row

    ids, kinds, score, rules = run(read())
    assert ids == ["ln-1", "ln-2", "ln-3"]
    assert kinds == ["opened", "linked", "linked"]
    assert score == 0.7 and "odd_hours" in rules  # the case's score is its highest


def test_only_decisions_that_open_a_case_open_one(record_url: str) -> None:
    run(
        write(
            record_url,
            record_body(
                "no-1", decision="approve", opens_case=False, transaction={"card_id": "c-a"}
            ),
            record_body(
                "no-2", decision="review", opens_case=False, transaction={"card_id": "c-b"}
            ),
            record_body(
                "no-3", decision="approve", opens_case=True, transaction={"card_id": "c-c"}
            ),
            record_body("no-4", decision="review", transaction={"card_id": "c-d"}),  # older record
            record_body("no-5", decision="challenge", transaction={"card_id": "c-e"}),
        )
    )
    opened = {
        card: bool(cases_of(record_url, card)) for card in ("c-a", "c-b", "c-c", "c-d", "c-e")
    }
    assert opened == {"c-a": False, "c-b": False, "c-c": True, "c-d": True, "c-e": False}
    assert opens_case({"decision": "review"}) and not opens_case({"decision": "decline"})


def test_a_resolved_case_does_not_take_new_decisions(record_url: str) -> None:
    run(write(record_url, review("rs-1", "card-rs")))
    [(case_id, _, _)] = cases_of(record_url, "card-rs")

    async def resolve() -> None:
        async with await connect(record_url) as connection:
            await move(connection, record_only, case_id, Move("resolve", "ana", resolution="fraud"))

    run(resolve())
    run(write(record_url, review("rs-2", "card-rs")))
    assert [row[1:] for row in cases_of(record_url, "card-rs")] == [
        ("resolved", "rs-1"),
        ("open", "rs-2"),
    ]


def test_a_case_opened_by_hand_on_any_decision(record_url: str) -> None:
    run(write(record_url, record_body("hd-1", decision="approve", transaction={"card_id": "c-h"})))

    async def open_twice() -> tuple[bool, bool, int, int]:
        async with await connect(record_url) as connection:
            first = await open_by_hand(connection, "hd-1", "test-analyst", "customer called")
            again = await open_by_hand(connection, "hd-1", "test-analyst")
            events = await case_events(connection, first.case_id)
        assert events[0]["note"] == "customer called" and events[0]["actor"] == "test-analyst"
        return first.new, again.new, first.case_id, again.case_id

    new, new_again, case_id, same = run(open_twice())
    assert (new, new_again, case_id) == (True, False, same)

    async def unknown() -> None:
        async with await connect(record_url) as connection:
            await open_by_hand(connection, "never-scored", "test-analyst")

    with pytest.raises(UnknownTransactionError):
        run(unknown())


def test_two_batches_on_one_card_at_once_open_one_case(record_url: str) -> None:
    """Two recorders' transactions racing on the same card: the partial unique index makes
    the second wait and link to the case the first opened."""

    async def race() -> None:
        first = await connect(record_url)
        second = await connect(record_url)
        async with first, second:
            writers = [DecisionWriter(hooks=[open_cases]) for _ in range(2)]
            await asyncio.gather(
                writers[0].write(first, [review("race-1", "card-race")]),
                writers[1].write(second, [review("race-2", "card-race")]),
            )

    run(race())
    assert len(cases_of(record_url, "card-race")) == 1
    with psycopg.connect(record_url) as connection:
        (linked,) = connection.execute(  # type: ignore[misc]
            "SELECT count(*) FROM case_decisions JOIN cases USING (case_id) WHERE card_id = %s",
            ("card-race",),
        ).fetchone()
    assert linked == 2
