"""What the score path takes and gives, as typed values: no JSON and no HTTP here.

`ScoreInput` -> `Scorer.score` -> `ScoreResult`: the `ScoreDecision` the checkout gets and the
`DecisionRecord` kept of it (stored for retries and feedback by `scoring.record_codec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from model.reasons import ReasonSource
from policy.decision import Decision

# Why features were missing from a degraded decision.
DegradedCause = Literal["timeout", "unavailable"]


@dataclass(frozen=True, slots=True)
class ScoreInput:
    """A validated score request: raw history columns plus a fingerprint of the body.

    `attributes` holds the raw history columns of the request (`history/schema.py`), amount
    and currency among them; `ts_ms`, `amount` and `currency` are the typed copies the score
    path computes with.
    """

    transaction_id: str
    ts_ms: int
    amount: float
    currency: str
    attributes: Mapping[str, Any]
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code of a decision; `weight` is the summed attribution of a model reason
    (log-odds), None for rule and system reasons. `contributions` are the features behind a
    model reason and their attributions (they add up to `weight`; kept in the record, not
    part of the score response, nor of equality: a replay equals the answer given)."""

    code: str
    source: ReasonSource
    message: str
    weight: float | None
    contributions: Mapping[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class ScoreDecision:
    """What the checkout gets for one transaction (the fields of the score response)."""

    transaction_id: str
    decision: Decision
    score: float
    reasons: tuple[Reason, ...]
    rules_matched: tuple[str, ...]  # active rules only; shadow ones are in the record
    model_version: str
    policy_version: str
    feature_set_version: str
    degraded: bool
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class StageTimings:
    """Time each stage of the score path took, in microseconds."""

    features_us: int
    model_us: int
    attributions_us: int
    rules_us: int


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """Everything kept of one decision: what was asked, what it was made from, what it was.

    `features` is keyed by feature name in definition order, a missing value NaN;
    `attributions` follow the same order (`attribution_of` pairs them with the names): exact
    TreeSHAP for a decision scored at or above the review band, none below it.
    `decision` is the answer as first given (`replayed` false).
    """

    request: ScoreInput
    decision: ScoreDecision
    features: Mapping[str, float]
    margin: float  # the model's log-odds before calibration
    attributions: tuple[float, ...]  # of the margin to each feature, log-odds
    shadow_rules_matched: tuple[str, ...]
    expired_rules: tuple[str, ...]
    failed_rules: tuple[str, ...]  # rules whose evaluation raised: they did not match
    degraded_cause: DegradedCause | None
    timings: StageTimings
    decided_at_ms: int
    opens_case: bool = False  # the policy decided it opens a case (the recorder opens it)

    @property
    def transaction_id(self) -> str:
        return self.request.transaction_id

    def attribution_of(self) -> dict[str, float]:
        """The attributions by feature name (empty for records kept without them)."""
        return dict(zip(self.features, self.attributions, strict=False))


@dataclass(frozen=True, slots=True)
class Replay:
    """What Redis keeps of a decision for the retry window: the answer as first given and
    the fingerprint of the body it answered (the full record is in the system of record)."""

    decision: ScoreDecision
    fingerprint: str
    decided_at_ms: int


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The answer to one score call. For a retry, `decision` is the stored one marked
    `replayed` and `record` is None (the first attempt's record was sent to the record)."""

    decision: ScoreDecision
    record: DecisionRecord | None
