"""What each event says (`data` of the body sent), built from what the record holds.

decision record (the row of `decisions` the recorder wrote) -> `DECISION_PAYLOAD`, built by
PostgreSQL; label event (`record.labels.LabelEvent`) -> `label_payload`; case change ->
`case_payload`. Ids are the caller's tokens: the edge refuses a card number in any field
(`history.card_numbers`), so none reaches an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import sql

from record.labels import LabelEvent

# decision.created: the decision as answered, its versions and the transaction as a receiver
# routes or looks it up (the features, IP and email domain stay in the record). An SQL
# expression over `d`, the row of `decisions` the recorder's batch just wrote, so that no
# payload passes through Python; the only definition of this payload (docs/webhooks.md).
# Times are UTC in Python's isoformat; the amount in major units as the decisions API gives it.
DECISION_PAYLOAD = sql.SQL("""json_build_object(
  'transaction_id', d.transaction_id, 'decision', d.decision, 'score', d.score,
  'reasons', d.reasons, 'rules_matched', d.rules_matched, 'degraded', d.degraded,
  'model_version', d.model_version, 'policy_version', d.policy_version,
  'feature_set_version', d.feature_set_version,
  'decided_at', to_char(d.decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
  'transaction', json_build_object(
    'occurred_at',
    to_char(d.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
    'amount', record_major_units(d.amount_minor, d.currency)::float8, 'currency', d.currency,
    'card_id', d.card_id, 'card_country', d.card_country, 'merchant_id', d.merchant_id,
    'merchant_mcc', d.merchant_mcc, 'merchant_country', d.merchant_country,
    'customer_id', d.customer_id, 'device_id', d.device_id, 'channel', d.channel,
    'billing_country', d.billing_country, 'shipping_country', d.shipping_country))""")


def label_payload(event: LabelEvent) -> dict[str, Any]:
    """label.recorded: the label event as the record keeps it."""
    return {
        "transaction_id": event.transaction_id,
        "label_event_id": event.event_id,
        "kind": event.kind,
        "is_fraud": event.is_fraud,
        "source": event.source,
        "reported_at": event.reported_at.isoformat(),
        "reported_by": event.reported_by,
        "received_at": event.received_at.isoformat() if event.received_at else None,
    }


def case_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """case.opened / case.resolved: the case's change as `case_events` keeps it."""
    return {
        "case_id": event["case_id"],
        "case_event_id": event["event_id"],
        "status": event["status"],
        "resolution": event["resolution"],
        "assignee": event["assignee"],
        "transaction_id": event["transaction_id"],
        "actor": event["actor"],
        "note": event["note"],
        "at": event["at"].isoformat(),
    }
