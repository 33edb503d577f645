"""What each event says (`data` of the body sent), built from what the record holds.

decision record (`record.writer.NewDecision`) -> `decision_payload`; label event
(`record.labels.LabelEvent`) -> `label_payload`. Ids are the caller's tokens: the edge refuses
a card number in any field (`history.card_numbers`), so none reaches an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from record.labels import LabelEvent
from record.writer import NewDecision

# The transaction as a receiver routes or looks it up; the rest stays in the record.
SUMMARY_FIELDS = (
    "amount", "currency", "card_id", "card_country", "merchant_id", "merchant_mcc",
    "merchant_country", "customer_id", "device_id", "channel", "billing_country",
    "shipping_country",
)  # fmt: skip
VERSION_FIELDS = ("model_version", "policy_version", "feature_set_version")


def _iso_ms(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat()


def decision_payload(new: NewDecision) -> dict[str, Any]:
    """decision.created: the decision as answered, its versions and the transaction."""
    record = new.record
    transaction = record["transaction"]
    return {
        "transaction_id": new.transaction_id,
        "decision": record["decision"],
        "score": record["score"],
        "reasons": record["reasons"],
        "rules_matched": record["rules_matched"],
        "degraded": record["degraded"],
        **{name: record[name] for name in VERSION_FIELDS},
        "decided_at": new.decided_at.isoformat(),
        "transaction": {
            "occurred_at": _iso_ms(transaction["timestamp_ms"]),
            **{name: transaction.get(name) for name in SUMMARY_FIELDS},
        },
    }


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
