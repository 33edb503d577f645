"""The score path's typed results as response bodies: the only place they become JSON.

`ScoreDecision` -> `score_body` (the fields of `schemas.ScoreResponse`, in its order);
`DecisionRecord` -> `decision_body` (`schemas.StoredDecision`). Routes send them with orjson.
"""

from __future__ import annotations

from typing import Any

from scoring.results import DecisionRecord, Reason, ScoreDecision
from service.schemas import Reason as ReasonBody
from service.schemas import ScoreResponse

# The response's shape is the schema's: its fields, in its order, read off the typed decision.
SCORE_FIELDS = tuple(ScoreResponse.model_fields)
REASON_FIELDS = tuple(ReasonBody.model_fields)


def score_body(decision: ScoreDecision) -> dict[str, Any]:
    """The body of a score response."""
    body = {name: getattr(decision, name) for name in SCORE_FIELDS}
    body["reasons"] = [reason_body(reason) for reason in decision.reasons]
    return body


def reason_body(reason: Reason) -> dict[str, Any]:
    return {name: getattr(reason, name) for name in REASON_FIELDS}


def decision_body(record: DecisionRecord) -> dict[str, Any]:
    """The body of `GET /v1/decisions/{id}`: the decision as first answered and everything
    it was made from (never the body's fingerprint). A missing feature value is null."""
    request, timings = record.request, record.timings
    return {
        **score_body(record.decision),
        "shadow_rules_matched": record.shadow_rules_matched,
        "expired_rules": record.expired_rules,
        "failed_rules": record.failed_rules,
        "degraded_cause": record.degraded_cause,
        "transaction": {
            "timestamp_ms": request.ts_ms,
            "amount": request.amount,
            "currency": request.currency,
            **request.attributes,
        },
        "features": record.features,  # orjson writes NaN as null
        "attributions": record.attribution_of(),
        "margin": record.margin,
        "timings_us": {
            "features": timings.features_us,
            "model": timings.model_us,
            "attributions": timings.attributions_us,
            "rules": timings.rules_us,
        },
        "decided_at_ms": record.decided_at_ms,
    }
