"""The score path's typed results as response bodies: the only place they become JSON.

`ScoreDecision` -> `score_body` (the fields of `schemas.ScoreResponse`, in its order); the
record's routes add what PostgreSQL holds (`service.record_routes`). Sent with orjson.
"""

from __future__ import annotations

from typing import Any

from scoring.results import Reason, ScoreDecision
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
