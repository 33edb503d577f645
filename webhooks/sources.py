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
from webhooks import subscriptions
from webhooks.kinds import CASE_OPENED, CASE_RESOLVED, DECISION_CREATED, LABEL_RECORDED, OUTCOMES
from webhooks.outbox import Event, emit, emit_many
from webhooks.payloads import case_payload, decision_payload, label_payload


async def decisions_created(connection: AsyncConnection, new: Sequence[NewDecision]) -> None:
    """A decision.created event per decision new to the record, for subscriptions whose
    outcome filter takes it (one query when nobody subscribes)."""
    wanting = await subscriptions.matching(connection, DECISION_CREATED)
    if not wanting:  # no payload built for nobody: the recorder's usual case
        return
    outcomes = {o for _, filter_ in wanting for o in (filter_ or OUTCOMES)}
    events = [Event(decision_payload(d), d.record["decision"]) for d in new
              if d.record["decision"] in outcomes]  # fmt: skip
    await emit_many(connection, DECISION_CREATED, events)


async def label_recorded(connection: AsyncConnection, event: LabelEvent) -> str | None:
    """A label.recorded event for a label event new to the record."""
    return await emit(connection, LABEL_RECORDED, label_payload(event))


# The changes of a case that go out, by the kind `case_events` gives them.
CASE_KINDS = {"opened": CASE_OPENED, "resolved": CASE_RESOLVED}


async def cases_changed(connection: AsyncConnection, changes: Sequence[Mapping[str, Any]]) -> None:
    """A case.opened or case.resolved event per such change (rows of `case_events` as
    inserted), in the change's transaction; other changes (claims, notes...) stay inside."""
    for case_kind, kind in CASE_KINDS.items():
        events = [Event(case_payload(c)) for c in changes if c["kind"] == case_kind]
        if events:
            await emit_many(connection, kind, events)
