"""Response bodies of the record's routes (`GET /v1/decisions`, `/v1/decisions/{id}`):
what `service.record_routes` answers from PostgreSQL, as the OpenAPI schema shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from service.schemas import ScoreResponse, StageTimings


class LabelEventBody(BaseModel):
    """One label event of the record (every report is kept)."""

    kind: Literal["chargeback", "confirmed_fraud", "confirmed_legitimate"]
    is_fraud: bool
    source: str
    reported_at: datetime
    reported_by: str
    received_at: datetime


class RecordedDecision(ScoreResponse):
    """A decision from the record (`recorded: true`) with its label history, or one scored
    moments ago and not recorded yet (`recorded: false`: only the answer and `decided_at`)."""

    recorded: bool
    decided_at: datetime
    occurred_at: datetime | None = None
    recorded_at: datetime | None = None
    shadow_rules_matched: list[str] | None = None
    expired_rules: list[str] | None = None
    transaction: dict[str, Any] | None = Field(
        None, description="The request, as raw history columns."
    )
    features: dict[str, float | None] | None = None
    attributions: dict[str, float] | None = Field(
        None, description="Attribution of the margin to each feature, log-odds."
    )
    margin: float | None = None
    failed_rules: list[str] | None = Field(None, description="Rules whose evaluation failed.")
    degraded_cause: Literal["timeout", "unavailable"] | None = None
    timings_us: StageTimings | None = None
    labels: list[LabelEventBody] = Field(default_factory=list)
    label: LabelEventBody | None = Field(None, description="The current label: latest report.")


class DecisionSummary(BaseModel):
    transaction_id: str
    decision: Literal["approve", "review", "challenge", "decline"]
    score: float
    degraded: bool
    rules_matched: list[str]
    shadow_rules_matched: list[str]
    card_id: str | None
    merchant_id: str | None
    amount: float
    currency: str
    occurred_at: datetime
    decided_at: datetime
    label: str | None = Field(description="The current label's kind, null when unlabelled.")


class DecisionPage(BaseModel):
    decisions: list[DecisionSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null last.")
