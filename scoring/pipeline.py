"""The score path, in plain Python: no HTTP types here; `service/` is a thin layer over it.

request -> idempotency + features (one Redis round trip) -> feature vector in manifest order
-> ONNX Runtime (score and per-feature attributions) -> reason codes -> policy -> decision
-> stored decision (for retries, lookups and feedback).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from feature_store.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
from feature_store.online import (
    MISSING_AGGREGATES,
    FeatureStoreError,
    FeatureStoreTimeoutError,
    OnlineStore,
    Transaction,
    feature_values,
    rule_feature_values,
)
from model.artifact import Model
from model.reasons import REASON_CODES, model_reasons
from policy.decision import Outcome, Policy
from policy.lists.kinds import ListLookup
from scoring.decisions import DecisionStore
from scoring.errors import (
    DecisionPendingError,
    DecisionStoreError,
    IdempotencyConflictError,
    NotReadyError,
)

# The fields of a score response, in the order of the contract (../shared/DESIGN.md).
RESPONSE_FIELDS = (
    "transaction_id",
    "decision",
    "score",
    "reasons",
    "rules_matched",
    "model_version",
    "policy_version",
    "feature_set_version",
    "degraded",
    "replayed",
)
MODEL_REASONS = 3
# How long a retry waits for the decision of its first attempt, still being made elsewhere or
# held up by a Redis stall: soak runs met stalls of a few hundred ms (docs/performance.md). A
# checkout's own timeout is usually longer.
PENDING_WAIT_MS = 1000
PENDING_POLL_MS = 5


@dataclass(frozen=True)
class ScoreInput:
    """A validated score request: raw history columns plus a fingerprint of the body."""

    transaction_id: str
    ts_ms: int
    amount: float
    currency: str
    attributes: dict[str, Any]
    fingerprint: str


@dataclass
class ScoreOutcome:
    """What the route needs: the response body, and what metrics and logs report."""

    response: dict[str, Any]
    degraded_cause: str | None = None  # "timeout" or "unavailable" when features were missing
    shadow_rules: list[str] = field(default_factory=list)


class Scorer:
    """Scores transactions with the current model and policy; both can be swapped at any time.

    >>> scorer = Scorer(online_store, decision_store, lists)
    >>> scorer.model, scorer.policy = load_model(path), load_policy(policy_path)
    >>> outcome = await scorer.score(score_input)
    """

    def __init__(self, store: OnlineStore, decisions: DecisionStore, lists: ListLookup) -> None:
        self.store = store
        self.decisions = decisions
        self.lists = lists
        self.model: Model | None = None
        self.policy: Policy | None = None

    def ready(self) -> tuple[Model, Policy]:
        if self.model is None:
            raise NotReadyError("no model is loaded")
        if self.policy is None:
            raise NotReadyError("no policy is loaded")
        return self.model, self.policy

    async def score(self, request: ScoreInput) -> ScoreOutcome:
        """Decide on one transaction; a retry of a decided one gets the stored decision back.

        Raises `NotReadyError`, `IdempotencyConflictError` or `DecisionPendingError`; a
        feature store failure degrades the decision instead of raising.
        """
        model, policy = self.ready()  # read once: a swap mid-request changes nothing
        txn = Transaction.build(
            request.transaction_id,
            request.ts_ms,
            request.amount,
            request.currency,
            request.attributes,
        )
        started = time.perf_counter_ns()
        cause = None
        try:
            reading = await self.store.record(txn, request.fingerprint)
        except FeatureStoreError as exc:
            cause = "timeout" if isinstance(exc, FeatureStoreTimeoutError) else "unavailable"
            aggregates = MISSING_AGGREGATES
        else:
            if reading.first_fingerprint is not None:
                return await self._replay(request, reading.first_fingerprint)
            aggregates = reading.aggregates
        fetched = time.perf_counter_ns()
        values = feature_values(txn, aggregates)
        explanation = model.explain(np.array([values], dtype=np.float32))
        modelled = time.perf_counter_ns()
        top = model_reasons(explanation.contributions, MODEL_REASONS)
        explained = time.perf_counter_ns()
        # Rules read the model's features and those declared for rules only.
        features = dict(zip(FEATURE_NAMES, values, strict=True))
        features.update(rule_feature_values(txn, aggregates))
        outcome = policy.decide(
            attributes=txn.attributes,
            features=features,
            score=explanation.score,
            degraded=cause is not None,
            lists=self.lists,
        )
        decided = time.perf_counter_ns()
        response = {
            "transaction_id": request.transaction_id,
            "decision": str(outcome.decision),
            "score": round(explanation.score, 6),
            "reasons": _reasons(outcome, top, cause),
            "rules_matched": [hit.rule_id for hit in outcome.matched],
            "model_version": model.version,
            "policy_version": policy.version,
            "feature_set_version": FEATURE_SET_VERSION,
            "degraded": cause is not None,
            "replayed": False,
        }
        shadow = [hit.rule_id for hit in outcome.shadow]
        record = {
            **response,
            "shadow_rules_matched": shadow,
            "expired_rules": list(outcome.expired),
            "fingerprint": request.fingerprint,
            "transaction": {
                "timestamp_ms": request.ts_ms,
                "amount": request.amount,
                "currency": request.currency,
                **request.attributes,
            },
            "features": features,  # a missing value (NaN) is stored as null
            "margin": explanation.margin,
            "timings_us": {
                "features": (fetched - started) // 1000,
                "model": (modelled - fetched) // 1000,
                "attributions": (explained - modelled) // 1000,
                "rules": (decided - explained) // 1000,
            },
            "decided_at_ms": int(time.time() * 1000),
        }
        # Not awaited: the decision leaves for Redis with the worker's next write (within
        # 2 ms); a retry that overtakes it waits for it (`_replay`).
        self.decisions.save_soon(request.transaction_id, record)
        return ScoreOutcome(response, cause, shadow)

    async def _replay(self, request: ScoreInput, first_fingerprint: str) -> ScoreOutcome:
        """The stored decision of a retried transaction id, or why there is none.

        Raises `IdempotencyConflictError` for another body, `DecisionPendingError` when no
        decision is stored within `PENDING_WAIT_MS`, and `DecisionStoreError` when Redis
        failed the last lookup: a slow Redis is not a transaction still being scored.
        """
        if first_fingerprint != request.fingerprint:
            raise IdempotencyConflictError(
                f"transaction_id {request.transaction_id!r} was scored before with a different "
                "body; send a new transaction_id for a new transaction"
            )
        deadline = time.monotonic() + PENDING_WAIT_MS / 1000
        while True:
            failure: DecisionStoreError | None = None
            try:
                record = await self.decisions.load(request.transaction_id)
            except DecisionStoreError as exc:
                record, failure = None, exc
            if record is not None:
                response = {name: record[name] for name in RESPONSE_FIELDS}
                response["replayed"] = True
                return ScoreOutcome(response, None, record.get("shadow_rules_matched", []))
            if time.monotonic() >= deadline:
                if failure is not None:
                    raise failure
                raise DecisionPendingError(
                    f"transaction_id {request.transaction_id!r} is being scored by an earlier "
                    "attempt, or its decision was not stored; retry shortly"
                )
            await asyncio.sleep(PENDING_POLL_MS / 1000)


def _reasons(
    outcome: Outcome, top: list[tuple[str, float]], cause: str | None
) -> list[dict[str, Any]]:
    """Rule reasons first (they decided), then the model's, then system conditions."""
    codes: list[tuple[str, float | None]] = []
    for hit in outcome.matched:
        if hit.reason_code not in (code for code, _ in codes):
            codes.append((hit.reason_code, None))
    codes += [(code, round(weight, 4)) for code, weight in top]
    if cause is not None:
        codes.append(("FEATURES_UNAVAILABLE", None))
        if outcome.degraded_limit_applied:
            codes.append(("DEGRADED_MODE_LIMIT", None))
    return [
        {
            "code": code,
            "source": str(REASON_CODES[code].source),
            "message": REASON_CODES[code].message,
            "weight": weight,
        }
        for code, weight in codes
    ]
