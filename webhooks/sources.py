"""Where events come from: the recorder's batch hook (decision.created) and the label path
(label.recorded), each in the transaction of what it reports.

record writer batch -> `decisions_created` (a `record.writer.BatchHook`); `scoring.feedback`
-> `label_recorded`; `cases.store.add_events` -> `cases_changed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection

from record.labels import LabelEvent
from record.writer import NewDecision
from webhooks.kinds import CASE_OPENED, CASE_RESOLVED, LABEL_RECORDED
from webhooks.outbox import emit, emit_decisions, emit_many
from webhooks.payloads import case_payload, label_payload


async def decisions_created(connection: AsyncConnection, new: Sequence[NewDecision]) -> None:
    """A decision.created event per decision new to the record, for subscriptions whose
    outcome filter takes it: PostgreSQL builds each from the row the batch just wrote, so
    Python reads only each record's key and decision (decoded already: no parse)."""
    keys = [(d.decided_at, d.transaction_id, d.record["decision"]) for d in new]
    await emit_decisions(connection, keys)


async def label_recorded(connection: AsyncConnection, event: LabelEvent) -> str | None:
    """A label.recorded event for a label event new to the record."""
    return await emit(connection, LABEL_RECORDED, label_payload(event))


# The changes of a case that go out, by the kind `case_events` gives them.
CASE_KINDS = {"opened": CASE_OPENED, "resolved": CASE_RESOLVED}


async def cases_changed(connection: AsyncConnection, changes: Sequence[Mapping[str, Any]]) -> None:
    """A case.opened or case.resolved event per such change (rows of `case_events` as
    inserted), in the change's transaction; other changes (claims, notes...) stay inside."""
    for case_kind, kind in CASE_KINDS.items():
        events = [case_payload(c) for c in changes if c["kind"] == case_kind]
        if events:
            await emit_many(connection, kind, events)
