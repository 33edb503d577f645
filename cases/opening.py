"""Opening cases: by the recorder for the decisions that open one, or by hand on any decision.

recorder batch (`record.writer` hook `open_cases`) / `POST /v1/cases` (`open_by_hand`) ->
`cases.store.open_or_link`: a new case, or a link to the card's unresolved one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection

from cases.store import CaseDecision, Opened, open_or_link, open_or_link_many
from record.decisions import find_decision
from record.errors import UnknownTransactionError
from record.writer import NewDecision

POLICY_ACTOR = "policy"  # who opened a case the policy opened


def opens_case(record: Mapping[str, Any]) -> bool:
    """Whether the policy in force decided that this decision opens a case (the score path
    writes it in the record: the recorder does not know the policy). Records written before
    the field existed open one when they are a review, the policy's default."""
    flag = record.get("opens_case")
    if isinstance(flag, bool):
        return flag
    return record.get("decision") == "review"


async def open_cases(connection: AsyncConnection, new: Sequence[NewDecision]) -> None:
    """The recorder's batch hook: open or link a case for each new decision that opens one."""
    opening = [
        CaseDecision(
            transaction_id=decision.transaction_id,
            decided_at=decision.decided_at,
            card_id=str(decision.record["transaction"]["card_id"]),
            device_id=decision.record["transaction"].get("device_id"),
            score=float(decision.record["score"]),
            rules_matched=list(decision.record["rules_matched"]),
        )
        for decision in new
        if opens_case(decision.record)
    ]
    await open_or_link_many(connection, opening, POLICY_ACTOR)


async def open_by_hand(
    connection: AsyncConnection, transaction_id: str, actor: str, note: str | None = None
) -> Opened:
    """Open a case on a recorded decision (or link it to its card's unresolved case; a
    decision already in a case answers that case). Raises `UnknownTransactionError`."""
    async with connection.transaction():
        row = await find_decision(connection, transaction_id)
        if row is None:
            raise UnknownTransactionError(
                f"no recorded decision for transaction_id {transaction_id!r}: never scored here, "
                "not recorded yet, or older than the record's retention"
            )
        return await open_or_link(connection, _decision_of_row(row), actor, note)


def _decision_of_row(row: Mapping[str, Any]) -> CaseDecision:
    return CaseDecision(
        transaction_id=row["transaction_id"],
        decided_at=row["decided_at"],
        card_id=row["card_id"],
        device_id=row["device_id"],
        score=float(row["score"]),
        rules_matched=list(row["rules_matched"]),
    )
