"""The review queue read back (real PostgreSQL): every filter, cursor pages that neither
repeat nor skip a case, and the queue's health by age."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cases.errors import CaseCursorError
from cases.machine import Move, move
from cases.queue import (
    AGE_LABELS,
    CASE_PAGES,
    CaseFilter,
    list_cases,
    queue_health,
)
from tests.cases.conftest import cases_of, record_only, review, write
from tests.record.conftest import connect, run

pytestmark = pytest.mark.postgres


def _queue(url: str) -> dict[str, int]:
    """Six cases: scores 0.1 .. 0.6, one matching rule `odd_hours`, two claimed by ana and one
    resolved; returns their ids by card."""
    bodies = [
        review(f"q-{n}", f"card-q{n}", score=n / 10, rules_matched=["odd_hours"] if n == 3 else [])
        for n in range(1, 7)
    ]
    run(write(url, *bodies))
    ids = {f"card-q{n}": int(cases_of(url, f"card-q{n}")[0][0]) for n in range(1, 7)}

    async def work() -> None:
        async with await connect(url) as connection:
            for card in ("card-q1", "card-q2"):
                await move(connection, record_only, ids[card], Move("claim", "ana"))
            await move(
                connection, record_only, ids["card-q6"], Move("resolve", "bob", resolution="fraud")
            )

    run(work())
    return ids


async def _cards(url: str, filters: CaseFilter) -> list[str]:
    async with await connect(url) as connection:
        page = await list_cases(connection, filters, limit=500)
    return [row["card_id"] for row in page.cases]


def test_filters(record_url: str) -> None:
    _queue(record_url)
    q = [f"card-q{n}" for n in range(1, 7)]
    assert run(_cards(record_url, CaseFilter())) == q  # oldest first
    assert run(_cards(record_url, CaseFilter(status="assigned"))) == q[:2]
    assert run(_cards(record_url, CaseFilter(status="open"))) == q[2:5]
    assert run(_cards(record_url, CaseFilter(status="unresolved"))) == q[:5]
    assert run(_cards(record_url, CaseFilter(status="resolved"))) == q[5:]
    assert run(_cards(record_url, CaseFilter(assignee="ana"))) == q[:2]
    assert run(_cards(record_url, CaseFilter(rule="odd_hours"))) == ["card-q3"]
    assert run(_cards(record_url, CaseFilter(min_score=0.35, max_score=0.55))) == q[3:5]
    assert run(_cards(record_url, CaseFilter(card_id="card-q4"))) == ["card-q4"]
    assert run(_cards(record_url, CaseFilter(min_age_seconds=3600))) == []
    assert run(_cards(record_url, CaseFilter(min_age_seconds=0))) == q


def test_pages_neither_repeat_nor_skip(record_url: str) -> None:
    _queue(record_url)

    async def walk() -> list[list[str]]:
        pages, cursor = [], None
        async with await connect(record_url) as connection:
            while True:
                page = await list_cases(connection, CaseFilter(), cursor=cursor, limit=4)
                pages.append([row["card_id"] for row in page.cases])
                if page.next_cursor is None:
                    return pages
                cursor = page.next_cursor

    pages = run(walk())
    assert [len(page) for page in pages] == [4, 2]
    assert [card for page in pages for card in page] == [f"card-q{n}" for n in range(1, 7)]


def test_a_cursor_not_handed_out_is_refused(record_url: str) -> None:
    async def bad() -> None:
        async with await connect(record_url) as connection:
            await list_cases(connection, CaseFilter(), cursor="bm90LWEtY3Vyc29y")

    with pytest.raises(CaseCursorError, match="not one a page of cases handed out"):
        run(bad())
    too_big = CASE_PAGES.encode(datetime.now(UTC), 2**63)  # a bigint could not hold it
    with pytest.raises(CaseCursorError):
        CASE_PAGES.decode(too_big)


def test_queue_health_counts_unresolved_cases_by_age(record_url: str) -> None:
    _queue(record_url)

    async def health() -> tuple[dict[tuple[str, str], int], float]:
        async with await connect(record_url) as connection:
            await connection.execute(
                "UPDATE cases SET opened_at = opened_at - interval '2 days' WHERE card_id = %s",
                ("card-q3",),
            )
            measured = await queue_health(connection)
        return measured.unresolved, measured.oldest_seconds

    unresolved, oldest = run(health())
    assert unresolved[("assigned", AGE_LABELS[0])] == 2
    assert unresolved[("open", AGE_LABELS[0])] == 2
    assert unresolved[("open", "1d-7d")] == 1
    assert sum(unresolved.values()) == 5  # the resolved one is not counted
    assert 2 * 86_400 <= oldest < 2 * 86_400 + 600
