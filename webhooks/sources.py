"""Where events come from: the recorder's batch hook (decision.created) and the label path
(label.recorded), each in the transaction of what it reports.

record writer batch -> `decisions_created` (a `record.writer.BatchHook`); `scoring.feedback`
-> `label_recorded`. Cases call `outbox.emit` themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import AsyncConnection

from record.labels import LabelEvent
from record.writer import NewDecision
from webhooks import subscriptions
from webhooks.kinds import DECISION_CREATED, LABEL_RECORDED, OUTCOMES
from webhooks.outbox import Event, emit, emit_many
from webhooks.payloads import decision_payload, label_payload


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
